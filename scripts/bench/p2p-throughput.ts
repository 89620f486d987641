/**
 * Verified pull throughput of one blob between two Emergence nodes in two processes, over the data lane (TLS on
 * its own TCP connection), over a plaintext lane (both nodes opted in, `--paths plain`) and over libp2p streams
 * (the same provider, a puller with lanes off), against the same bytes sent over a raw Node TCP socket and
 * fetched with curl from Debian's docker-registry, all in one run. The provider is one child process for the
 * whole run; every pull is a fresh puller child, so that its CPU time and its peak RSS (VmHWM) are its own. The
 * provider's peak RSS is reset before each pull (/proc/<pid>/clear_refs) and read after it.
 * `--runs N` repeats the rounds N times and reports the median of each.
 *
 * Usage: node scripts/bench/p2p-throughput.ts [--size 256M|1G|<bytes>] [--piece-size <bytes>] [--runs N]
 *        [--paths lane,plain,streams,raw] [--no-registry] [--keep]
 * The paths run in the order given, one after the other, every round; raw TCP always runs (the ratios' base).
 * Prints a table; `--json` prints the numbers as JSON instead.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs, promisify } from 'node:util'
import { Store } from '../../src/store/store.ts'
import { prefixHashCounts } from '../../src/store/partial.ts'
import { P2P } from '../../src/p2p/index.ts'
import type { Digest } from '../../src/oci/digest.ts'
import { cpuSeconds } from '../lib/idle.ts'
import { freePort } from '../lib/ports.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const SELF = new URL(import.meta.url).pathname

function parseSize (text: string): number {
  const match = /^(\d+)([KMG]?)$/i.exec(text)
  if (match === null) throw new Error(`bad size ${text}`)
  const unit = { '': 1, K: 1024, M: MiB, G: 1024 * MiB }[(match[2] ?? '').toUpperCase()] ?? 1
  return Number(match[1]) * unit
}

/** How a pull moves its pieces: the TLS lane, the plaintext lane, or libp2p streams (lanes off at the puller). */
type PullPath = 'lane' | 'plain' | 'streams'

/** What a puller child reports about its one pull. */
interface PullReport {
  seconds: number
  /** CPU seconds of the puller during the pull (all its threads). */
  cpu: number
  /** Peak RSS of the puller process, bytes. */
  peakRss: number
  laneBytes: number
  /** Bytes the partial blob's running hash took in order, read back after a gap, and read at commit. */
  prefix: typeof prefixHashCounts
}

/**
 * Child roles: `serve-p2p <store> <identity> <digest> [pieceSize]`, `serve-tcp <file>` and
 * `pull <dir> <addr> <digest> <size> <path>`; each prints one JSON line.
 */
async function child (role: string, args: string[]): Promise<void> {
  if (role === 'serve-p2p') {
    const [storeDir, identityDir, digest, pieceSize] = args as [string, string, Digest, string | undefined]
    const p2p = await P2P.create({
      store: await Store.open(storeDir),
      identityDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      exchange: { lanes: { plaintext: true }, ...(pieceSize !== undefined ? { pieceSize: Number(pieceSize) } : {}) }
    })
    // The piece list is hashed now, as a holder does at ingest, not on the first puller's request.
    await p2p.exchange.holdings.pieceList(digest)
    process.stdout.write(JSON.stringify({ addr: p2p.addresses[0] }) + '\n')
    process.once('SIGTERM', () => { void p2p.stop().then(() => process.exit(0)) })
    return
  }
  if (role === 'pull') {
    const [dir, addr, digest, size, path] = args as [string, string, Digest, string, PullPath]
    process.stdout.write(JSON.stringify(await pullHere(dir, addr, digest, Number(size), path)) + '\n')
    return
  }
  const [file] = args as [string]
  const server = createServer(socket => { createReadStream(file, { highWaterMark: MiB }).pipe(socket) })
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n')
  })
  process.once('SIGTERM', () => { server.close(); process.exit(0) })
}

/** The puller child's pull: a fresh store and node, one verified pull, then its numbers. */
async function pullHere (dir: string, addr: string, digest: Digest, size: number, path: PullPath): Promise<PullReport> {
  const puller = await P2P.create({
    store: await Store.open(join(dir, 'store')),
    identityDir: join(dir, 'id'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    exchange: { lanes: { enabled: path !== 'streams', plaintext: path === 'plain' } }
  })
  try {
    await puller.dial(addr)
    const before = process.cpuUsage()
    const pulled = await timed(async () => await puller.pullBlob({ digest, size }))
    const cpu = cpuOf(process.cpuUsage(before))
    const laneBytes = puller.exchange.lanes?.counts.bytes ?? 0
    if (path !== 'streams' && laneBytes < size) throw new Error(`only ${laneBytes} bytes came over the lane`)
    return { seconds: pulled.seconds, cpu, peakRss: await peakRss(process.pid), laneBytes, prefix: { ...prefixHashCounts } }
  } finally {
    await puller.stop()
  }
}

/** Peak resident set size of a process so far (VmHWM), bytes. */
async function peakRss (pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]
  return kib !== undefined ? Number(kib) * 1024 : Number.NaN
}

/** Starts a new peak RSS period for a process (writing 5 to clear_refs resets VmHWM to the current RSS). */
async function resetPeakRss (pid: number | undefined): Promise<void> {
  if (pid !== undefined) await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => {})
}

async function startChild (args: string[]): Promise<{ proc: ChildProcess, info: Record<string, unknown> }> {
  // The nodes run with the V8 flag bin/emergence gives a node (a smaller young generation: less peak memory).
  const proc = spawn(process.execPath, ['--max-semi-space-size=8', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once('line', resolve)
    proc.once('exit', code => { reject(new Error(`child ${args[0]} exited with ${code}`)) })
  })
  return { proc, info: JSON.parse(line) as Record<string, unknown> }
}

async function makeBlob (path: string, size: number): Promise<Digest> {
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  const chunk = Buffer.alloc(16 * MiB)
  for (let done = 0; done < size; done += chunk.byteLength) {
    const part = chunk.subarray(0, Math.min(chunk.byteLength, size - done))
    randomFillSync(part)
    hash.update(part)
    if (!out.write(part)) await new Promise<void>(resolve => { out.once('drain', () => { resolve() }) })
  }
  await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
  return `sha256:${hash.digest('hex')}`
}

function cpuOf (usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6
}

async function timed<T> (fn: () => Promise<T>): Promise<{ seconds: number, value: T }> {
  const start = performance.now()
  const value = await fn()
  return { seconds: (performance.now() - start) / 1000, value }
}

async function rawTcp (port: number, size: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    let bytes = 0
    const socket = connect(port, '127.0.0.1')
    socket.on('data', (chunk: Buffer) => { bytes += chunk.byteLength })
    socket.on('error', reject)
    socket.on('end', () => {
      if (bytes === size) resolve(bytes)
      else reject(new Error(`raw TCP got ${bytes} of ${size} bytes`))
    })
  })
}

const run = promisify(execFile)

/** docker-registry on a loopback port with a temp config; the blob pushed by monolithic upload. */
async function registry (dir: string, file: string, digest: Digest): Promise<{ proc: ChildProcess, url: string }> {
  const port = await freePort()
  const config = join(dir, 'registry.yml')
  await writeFile(config, [
    'version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'registry')}`,
    'http:', `  addr: 127.0.0.1:${port}`, ''
  ].join('\n'))
  const proc = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      await run('curl', ['-sf', `${url}/v2/`])
      break
    } catch (err) {
      if (i > 100) throw err
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  const { stdout } = await run('curl', ['-sf', '-D', '-', '-o', '/dev/null', '-X', 'POST', `${url}/v2/bench/blobs/uploads/`])
  const location = /^location:\s*(\S+)/im.exec(stdout)?.[1]
  if (location === undefined) throw new Error('docker-registry gave no upload location')
  const target = new URL(location, url)
  target.searchParams.set('digest', digest)
  await run('curl', ['-sf', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, target.toString()], { maxBuffer: 1024 * 1024 })
  return { proc, url }
}

interface Measured {
  seconds: number
  /** CPU seconds of the puller and of the provider during the pull. */
  cpu: { puller: number, provider: number }
  /** Peak RSS of the puller and of the provider during the pull, bytes (NaN where not measured). */
  rss: { puller: number, provider: number }
  prefix?: PullReport['prefix']
}

/** One verified pull from the provider child by a fresh puller child. */
async function pullOnce (dir: string, addr: string, provider: ChildProcess, digest: Digest, size: number, path: PullPath): Promise<Measured> {
  try {
    await resetPeakRss(provider.pid)
    const before = await cpuSeconds(provider.pid)
    const { proc, info } = await startChild(['pull', dir, addr, digest, String(size), path])
    await new Promise(resolve => { if (proc.exitCode !== null) resolve(undefined); else proc.once('exit', resolve) })
    const report = info as unknown as PullReport
    // The provider's CPU is counted from the puller's start: the child's own start-up is outside the timed pull.
    return { seconds: report.seconds, cpu: { puller: report.cpu, provider: await cpuSeconds(provider.pid) - before }, rss: { puller: report.peakRss, provider: await peakRss(provider.pid) }, prefix: report.prefix }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function medianOf (runs: Measured[]): Measured {
  return {
    seconds: median(runs.map(r => r.seconds)),
    cpu: { puller: median(runs.map(r => r.cpu.puller)), provider: median(runs.map(r => r.cpu.provider)) },
    rss: { puller: Math.max(...runs.map(r => r.rss.puller)), provider: Math.max(...runs.map(r => r.rss.provider)) }
  }
}

const LABELS: Record<PullPath | 'raw', string> = {
  lane: 'emergence, data lane (TLS 1.3 AES-GCM), verified, into the store',
  plain: 'emergence, plaintext lane (opt-in), verified, into the store',
  streams: 'emergence, libp2p streams (Noise + Yamux), verified, into the store',
  raw: 'raw Node TCP socket, no disk, no check'
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '1G' },
      'piece-size': { type: 'string' },
      runs: { type: 'string', default: '1' },
      paths: { type: 'string', default: 'lane,streams,raw' },
      'no-registry': { type: 'boolean' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' }
    }
  })
  const size = parseSize(values.size)
  const pieceSize = values['piece-size'] !== undefined ? parseSize(values['piece-size']) : undefined
  const runs = Math.max(1, Number(values.runs))
  const paths = values.paths.split(',') as Array<PullPath | 'raw'>
  for (const path of paths) if (!(path in LABELS)) throw new Error(`unknown path ${path}: lane, plain, streams or raw`)
  if (!paths.includes('raw')) paths.push('raw')
  const dir = await mkdtemp(join(tmpdir(), 'emergence-bench-'))
  const children: ChildProcess[] = []
  try {
    const file = join(dir, 'blob')
    const digest = await makeBlob(file, size)
    const providerStore = await Store.open(join(dir, 'provider'))
    await providerStore.blobs.write(digest, createReadStream(file, { highWaterMark: MiB }), { size })

    // The provider runs in a child process, each puller in another. Raw TCP: child process to this one, no disk, no check.
    const provider = await startChild(['serve-p2p', join(dir, 'provider'), join(dir, 'provider-id'), digest, ...(pieceSize !== undefined ? [String(pieceSize)] : [])])
    children.push(provider.proc)
    const tcp = await startChild(['serve-tcp', file])
    children.push(tcp.proc)
    const measured: Record<string, Measured[]> = Object.fromEntries(paths.map(p => [p, [] as Measured[]]))
    for (let round = 0; round < runs; round++) {
      for (const path of paths) {
        const into = measured[path] as Measured[]
        if (path !== 'raw') {
          into.push(await pullOnce(join(dir, `${path}-${round}`), provider.info.addr as string, provider.proc, digest, size, path))
          continue
        }
        const before = { self: process.cpuUsage(), child: await cpuSeconds(tcp.proc.pid) }
        const raw = await timed(async () => await rawTcp(tcp.info.port as number, size))
        into.push({ seconds: raw.seconds, cpu: { puller: cpuOf(process.cpuUsage(before.self)), provider: await cpuSeconds(tcp.proc.pid) - before.child }, rss: { puller: Number.NaN, provider: Number.NaN } })
      }
    }

    const rows: Array<{ path: string } & Measured> = paths.map(p => ({ path: LABELS[p], ...medianOf(measured[p] as Measured[]) }))
    const rawRow = rows[paths.indexOf('raw')] as Measured
    // curl from docker-registry (HTTP, no verification), written to a file; once.
    if (values['no-registry'] !== true) {
      const reg = await registry(dir, file, digest)
      children.push(reg.proc)
      const curl = await timed(async () => await run('curl', ['-sf', '-o', join(dir, 'curl-out'), `${reg.url}/v2/bench/blobs/${digest}`]))
      rows.push({ path: 'curl from docker-registry, to a file, no check (one run)', seconds: curl.seconds, cpu: { puller: Number.NaN, provider: Number.NaN }, rss: { puller: Number.NaN, provider: Number.NaN } })
    }
    const rawRate = size / 1e6 / rawRow.seconds
    const table = rows.map(r => ({ ...r, mbps: size / 1e6 / r.seconds, vsRaw: size / 1e6 / r.seconds / rawRate, perGiB: { puller: r.cpu.puller * GiB / size, provider: r.cpu.provider * GiB / size } }))
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ size, pieceSize: pieceSize ?? 'default', runs, rows: table, all: measured }, null, 2) + '\n')
      return
    }
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
    process.stdout.write(`blob ${(size / MiB).toFixed(0)} MiB, ${pieceSize !== undefined ? `${pieceSize / MiB} MiB` : 'default'} pieces, median of ${runs} run(s), load ${load}\n`)
    process.stdout.write('| path | s | MB/s | vs raw TCP | receiver CPU-s/GiB | sender CPU-s/GiB | receiver peak RSS MB | sender peak RSS MB |\n|---|---|---|---|---|---|---|---|\n')
    const mb = (bytes: number): string => Number.isNaN(bytes) ? '-' : (bytes / 1e6).toFixed(0)
    for (const r of table) {
      const cpu = Number.isNaN(r.perGiB.puller) ? '- | -' : `${r.perGiB.puller.toFixed(2)} | ${r.perGiB.provider.toFixed(2)}`
      process.stdout.write(`| ${r.path} | ${r.seconds.toFixed(2)} | ${r.mbps.toFixed(0)} | ${r.vsRaw.toFixed(2)}x | ${cpu} | ${mb(r.rss.puller)} | ${mb(r.rss.provider)} |\n`)
    }
    // How the partial blob's running hash got its bytes (store/partial.ts): a read-back means pieces came out of order.
    for (const name of paths) {
      const all = (measured[name] as Measured[]).flatMap(m => m.prefix !== undefined ? [m.prefix] : [])
      if (all.length === 0) continue
      const mean = (key: keyof PullReport['prefix']): string => (all.reduce((sum, p) => sum + p[key], 0) / all.length / MiB).toFixed(1)
      process.stdout.write(`${name}: whole-blob hash per pull, MiB hashed in order ${mean('inOrder')}, read back after a gap ${mean('readBack')}, read at commit ${mean('atCommit')}\n`)
    }
  } finally {
    for (const proc of children) proc.kill('SIGTERM')
    if (values.keep !== true) await rm(dir, { recursive: true, force: true })
  }
}

const [role, ...rest] = process.argv.slice(2)
if (role === 'serve-p2p' || role === 'serve-tcp') await child(role, rest)
else if (role === 'pull') {
  await child(role, rest)
  process.exit(0)
} else await main()
