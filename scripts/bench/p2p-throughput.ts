/**
 * Verified pull throughput of one blob between two Emergence nodes in two processes, over the data lane (TLS on
 * its own TCP connection) and over libp2p streams (the same nodes with the puller's lanes off), against the same
 * bytes sent over a raw Node TCP socket and fetched with curl from Debian's docker-registry, all in one run.
 * `--runs N` repeats the lane / streams / raw TCP rounds N times and reports the median of each.
 *
 * Usage: node scripts/bench/p2p-throughput.ts [--size 256M|1G|<bytes>] [--piece-size <bytes>] [--runs N]
 *        [--no-registry] [--keep]
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
import { P2P } from '../../src/p2p/index.ts'
import type { Digest } from '../../src/oci/digest.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const SELF = new URL(import.meta.url).pathname

function parseSize (text: string): number {
  const match = /^(\d+)([KMG]?)$/i.exec(text)
  if (match === null) throw new Error(`bad size ${text}`)
  const unit = { '': 1, K: 1024, M: MiB, G: 1024 * MiB }[(match[2] ?? '').toUpperCase()] ?? 1
  return Number(match[1]) * unit
}

/** Child roles: `serve-p2p <store> <identity> [pieceSize]` and `serve-tcp <file>`; each prints one JSON line. */
async function child (role: string, args: string[]): Promise<void> {
  if (role === 'serve-p2p') {
    const [storeDir, identityDir, pieceSize] = args as [string, string, string | undefined]
    const p2p = await P2P.create({
      store: await Store.open(storeDir),
      identityDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ...(pieceSize !== undefined ? { exchange: { pieceSize: Number(pieceSize) } } : {})
    })
    process.stdout.write(JSON.stringify({ addr: p2p.addresses[0] }) + '\n')
    process.once('SIGTERM', () => { void p2p.stop().then(() => process.exit(0)) })
    return
  }
  const [file] = args as [string]
  const server = createServer(socket => { createReadStream(file, { highWaterMark: MiB }).pipe(socket) })
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n')
  })
  process.once('SIGTERM', () => { server.close(); process.exit(0) })
}

async function startChild (args: string[]): Promise<{ proc: ChildProcess, info: Record<string, unknown> }> {
  const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
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

/** User + system CPU seconds a process has used so far (Linux /proc). */
async function cpuSeconds (pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
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
  const port = await new Promise<number>(resolve => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => { resolve(port) })
    })
  })
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
  /** CPU seconds of the puller (this process) and the provider (the child) during the pull. */
  cpu: { puller: number, provider: number }
}

/** One verified pull from the provider child into a fresh store; `lanes` false makes the puller use streams. */
async function pullOnce (dir: string, addr: string, provider: ChildProcess, digest: Digest, size: number, lanes: boolean): Promise<Measured> {
  const puller = await P2P.create({
    store: await Store.open(join(dir, 'store')),
    identityDir: join(dir, 'id'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    exchange: { lanes: { enabled: lanes } }
  })
  try {
    await puller.dial(addr)
    // The provider hashes its piece list on first request; do that outside the timed pull, as a holder does at ingest.
    await puller.exchange.client.pieceList(puller.node.getPeers()[0] as NonNullable<ReturnType<typeof puller.node.getPeers>[number]>, digest, size)
    const before = { puller: process.cpuUsage(), provider: await cpuSeconds(provider.pid) }
    const pulled = await timed(async () => await puller.pullBlob({ digest, size }))
    const cpu = { puller: cpuOf(process.cpuUsage(before.puller)), provider: await cpuSeconds(provider.pid) - before.provider }
    if (lanes && (puller.exchange.lanes?.counts.bytes ?? 0) < size) throw new Error(`only ${puller.exchange.lanes?.counts.bytes ?? 0} bytes came over the lane`)
    return { seconds: pulled.seconds, cpu }
  } finally {
    await puller.stop()
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
    cpu: { puller: median(runs.map(r => r.cpu.puller)), provider: median(runs.map(r => r.cpu.provider)) }
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '1G' },
      'piece-size': { type: 'string' },
      runs: { type: 'string', default: '1' },
      'no-registry': { type: 'boolean' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' }
    }
  })
  const size = parseSize(values.size)
  const pieceSize = values['piece-size'] !== undefined ? parseSize(values['piece-size']) : undefined
  const runs = Math.max(1, Number(values.runs))
  const dir = await mkdtemp(join(tmpdir(), 'emergence-bench-'))
  const children: ChildProcess[] = []
  try {
    const file = join(dir, 'blob')
    const digest = await makeBlob(file, size)
    const providerStore = await Store.open(join(dir, 'provider'))
    await providerStore.blobs.write(digest, createReadStream(file, { highWaterMark: MiB }), { size })

    // The provider runs in a child process; the puller here. Raw TCP: child process to this one, no disk, no check.
    const provider = await startChild(['serve-p2p', join(dir, 'provider'), join(dir, 'provider-id'), ...(pieceSize !== undefined ? [String(pieceSize)] : [])])
    children.push(provider.proc)
    const tcp = await startChild(['serve-tcp', file])
    children.push(tcp.proc)
    const measured = { lane: [] as Measured[], streams: [] as Measured[], raw: [] as Measured[] }
    for (let round = 0; round < runs; round++) {
      measured.lane.push(await pullOnce(join(dir, `lane-${round}`), provider.info.addr as string, provider.proc, digest, size, true))
      measured.streams.push(await pullOnce(join(dir, `streams-${round}`), provider.info.addr as string, provider.proc, digest, size, false))
      const before = { self: process.cpuUsage(), child: await cpuSeconds(tcp.proc.pid) }
      const raw = await timed(async () => await rawTcp(tcp.info.port as number, size))
      measured.raw.push({ seconds: raw.seconds, cpu: { puller: cpuOf(process.cpuUsage(before.self)), provider: await cpuSeconds(tcp.proc.pid) - before.child } })
    }

    const rows: Array<{ path: string } & Measured> = [
      { path: 'emergence, data lane (TLS 1.3 AES-GCM), verified, into the store', ...medianOf(measured.lane) },
      { path: 'emergence, libp2p streams (Noise + Yamux), verified, into the store', ...medianOf(measured.streams) },
      { path: 'raw Node TCP socket, no disk, no check', ...medianOf(measured.raw) }
    ]
    // 3. curl from docker-registry (HTTP, no verification), written to a file; once.
    if (values['no-registry'] !== true) {
      const reg = await registry(dir, file, digest)
      children.push(reg.proc)
      const curl = await timed(async () => await run('curl', ['-sf', '-o', join(dir, 'curl-out'), `${reg.url}/v2/bench/blobs/${digest}`]))
      rows.push({ path: 'curl from docker-registry, to a file, no check (one run)', seconds: curl.seconds, cpu: { puller: Number.NaN, provider: Number.NaN } })
    }
    const rawRate = size / 1e6 / (rows[2]?.seconds ?? 1)
    const table = rows.map(r => ({ ...r, mbps: size / 1e6 / r.seconds, vsRaw: size / 1e6 / r.seconds / rawRate, perGiB: { puller: r.cpu.puller * GiB / size, provider: r.cpu.provider * GiB / size } }))
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ size, pieceSize: pieceSize ?? 'default', runs, rows: table, all: measured }, null, 2) + '\n')
      return
    }
    process.stdout.write(`blob ${(size / MiB).toFixed(0)} MiB, ${pieceSize !== undefined ? `${pieceSize / MiB} MiB` : 'default'} pieces, median of ${runs} run(s), load ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}\n`)
    process.stdout.write('| path | s | MB/s | vs raw TCP | receiver CPU-s/GiB | sender CPU-s/GiB |\n|---|---|---|---|---|---|\n')
    for (const r of table) {
      const cpu = Number.isNaN(r.perGiB.puller) ? '- | -' : `${r.perGiB.puller.toFixed(2)} | ${r.perGiB.provider.toFixed(2)}`
      process.stdout.write(`| ${r.path} | ${r.seconds.toFixed(2)} | ${r.mbps.toFixed(0)} | ${r.vsRaw.toFixed(2)}x | ${cpu} |\n`)
    }
  } finally {
    for (const proc of children) proc.kill('SIGTERM')
    if (values.keep !== true) await rm(dir, { recursive: true, force: true })
  }
}

const [role, ...rest] = process.argv.slice(2)
if (role === 'serve-p2p' || role === 'serve-tcp') await child(role, rest)
else await main()
