/**
 * Migration downtime against state size (docs/automata.md "Migration"): two hosts in network namespaces capped
 * at RATE each way (tc tbf, anchors/netns-lib.sh), one node process per host; a busybox automaton whose state
 * directory holds SIZE MB of random bytes migrates from host 1 to host 2. Downtime is the source's stop to the
 * target's STARTED (the CLI's `downtimeMs`); the aim is downtime <= size / bandwidth + 0.5 s. A state past the
 * pre-copy threshold goes as a base while the automaton runs (`precopy`, not downtime) and a delta after the stop
 * (`sent at stop`: here the counter's file). The baseline, in the
 * same run and on the same link: the same state directory copied by hand, `tar` into a TCP socket on host 1 and
 * `tar -x` on host 2 (no hashing, no store, no container start): the floor of moving those bytes. Run as root:
 *
 *   node scripts/bench/migrate.ts [SIZES_MB=1,64,256] [RATE=1gbit] [ROUNDS=1]
 *
 * The hosts are network namespaces named `embmbh<i>`, removed at the end even when a run fails. The time a second
 * container of the same image takes to start is scripts/bench/run-start.ts's (docs/benchmarks.md).
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { buildBusyboxImage } from '../lib/busybox-image.ts'
import { startNode, stopAll, type ClusterNode } from '../lib/cluster.ts'
import { netnsHosts } from '../lib/netns.ts'

const HERE = dirname(import.meta.filename)
const PFX = 'embmb'
const MB = 1_000_000
const IMAGE = 'bench/migrate:1'
const COUNTER = 'trap "exit 0" TERM; n=$(cat /state/n 2>/dev/null || echo 0); while true; do n=$((n+1)); echo $n > /state/n; sleep 0.2; done'

const sizes = (process.argv[2] ?? '1,64,256').split(',').map(Number)
const rate = process.argv[3] ?? '1gbit'
const rounds = Number(process.argv[4] ?? 1)

const { sh, ip: hostIp, wrap } = netnsHosts(PFX, { netOnly: true })

/** Bits per second of a tc rate (`1gbit`, `200mbit`). */
function bitsPerSecond (text: string): number {
  const match = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/.exec(text)
  if (match === null) throw new Error(`rate ${text}: want <n>[k|m|g]bit`)
  return Number(match[1]) * ({ k: 1e3, m: 1e6, g: 1e9 }[match[2] as 'k' | 'm' | 'g'] ?? 1)
}


interface Migrated {
  downtimeMs: number
  phases: Array<{ phase: string, ms: number, bytes?: number }>
  /** What moved after the stop: the delta over `base` (pre-copied while the automaton ran), or the whole state. */
  snapshot: { size: number }
  base?: { size: number }
}

async function migrateOnce (source: ClusterNode, target: ClusterNode, work: string, name: string, mb: number): Promise<Migrated> {
  const state = join(source.dataDir, 'automata', name, 'state')
  await mkdir(state, { recursive: true })
  await writeFile(join(state, 'data'), randomBytes(mb * MB))
  const spec = join(work, `${name}.json`)
  await writeFile(spec, JSON.stringify({ name, artefact: IMAGE, process: { args: ['/bin/sh', '-c', COUNTER] }, state: '/state' }))
  const started = await source.cli(['automaton', 'start', spec])
  if (started.status !== 0) throw new Error(`automaton start: ${started.stderr}`)
  const run = await source.cli(['automaton', 'migrate', name, '--to', target.address, '--stop-timeout', '5'], { json: true })
  if (run.status !== 0) throw new Error(`migrate: ${run.stderr}`)
  await target.cli(['automaton', 'rm', name])
  return JSON.parse(run.stdout) as Migrated
}

/** The state copied by hand: `tar -c` into a TCP socket on host 1, `tar -x` from it on host 2; seconds. */
async function rawCopy (source: ClusterNode, work: string, mb: number): Promise<number> {
  const dir = join(work, 'raw-src')
  const out = join(work, 'raw-dst')
  await mkdir(dir, { recursive: true })
  await mkdir(out, { recursive: true })
  await writeFile(join(dir, 'data'), randomBytes(mb * MB))
  const port = 9100
  // The receiver runs on host 2, in its network namespace.
  const listener = spawn(wrap(2)[0] as string, [...wrap(2).slice(1), process.execPath, '-e', `
    const { createServer } = require('node:net'); const { spawn } = require('node:child_process')
    const server = createServer(socket => {
      const tar = spawn('tar', ['-x', '-C', ${JSON.stringify(out)}], { stdio: ['pipe', 'inherit', 'inherit'] })
      socket.pipe(tar.stdin); tar.on('exit', () => { server.close(); process.exit(0) })
    }).listen(${port}, '${hostIp(2)}', () => console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(listener.stdout, 'data')
  const start = performance.now()
  const sender = spawnSync(wrap(1)[0] as string, [...wrap(1).slice(1), 'bash', '-c', `tar -C ${dir} -cf - . > /dev/tcp/${hostIp(2)}/${port}`])
  if (sender.status !== 0) throw new Error(`tar sender: ${sender.stderr.toString()}`)
  await once(listener, 'exit')
  const seconds = (performance.now() - start) / 1000
  await rm(dir, { recursive: true, force: true })
  await rm(out, { recursive: true, force: true })
  return seconds
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

async function main (): Promise<void> {
  const bandwidth = bitsPerSecond(rate) / 8
  const work = await mkdtemp(join(tmpdir(), 'emergence-bench-migrate-'))
  const nodes: ClusterNode[] = []
  sh('hosts_down; hosts_up 2 ' + rate)
  try {
    const layout = await buildBusyboxImage(work)
    const first = join(work, 'h1')
    const imported = spawnSync(join(HERE, '..', '..', 'bin', 'emergence'), ['--data-dir', first, 'image', 'import', `${layout}:1`, '--name', IMAGE], { encoding: 'utf8' })
    if (imported.status !== 0) throw new Error(`import: ${imported.stderr}`)
    const h1 = await startNode({ dataDir: first, listen: `/ip4/${hostIp(1)}/tcp/7701`, wrap: wrap(1), extraArgs: ['--nix-cache', 'off'], timeoutMs: 60_000 })
    nodes.push(h1)
    const h2 = await startNode({ dataDir: join(work, 'h2'), listen: `/ip4/${hostIp(2)}/tcp/7701`, bootstrap: [h1.address], trusted: [h1.peerId], wrap: wrap(2), extraArgs: ['--nix-cache', 'off'], timeoutMs: 60_000 })
    nodes.push(h2)
    // The image reaches host 2 once, before any timing: every row measures the state alone.
    await migrateOnce(h1, h2, work, 'warmup', 0)
    console.log(`migration downtime at ${rate} between two hosts, ${rounds} round(s), medians; load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
    console.log('| state MB | downtime s | aim s (size/bw + 0.5) | met | precopy (running) | stop | snapshot | transfer | restore | start | sent at stop MB | tar over TCP s | downtime / tar |')
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (const mb of sizes) {
      const runs: Migrated[] = []
      const raws: number[] = []
      for (let round = 0; round < rounds; round++) {
        runs.push(await migrateOnce(h1, h2, work, `s${mb}r${round}`, mb))
        raws.push(await rawCopy(h1, work, mb))
      }
      const downtime = median(runs.map(r => r.downtimeMs)) / 1000
      const phase = (name: string): string => (median(runs.map(r => r.phases.find(p => p.phase === name)?.ms ?? NaN)) / 1000).toFixed(2)
      const aim = mb * MB / bandwidth + 0.5
      const raw = median(raws)
      const sent = median(runs.map(r => r.snapshot.size)) / MB
      console.log(`| ${mb} | ${downtime.toFixed(2)} | ${aim.toFixed(2)} | ${downtime <= aim ? 'yes' : 'no'} | ${runs.some(r => r.base !== undefined) ? phase('precopy') : '-'} | ${phase('stop')} | ${phase('snapshot')} | ${phase('transfer')} | ${phase('restore')} | ${phase('start')} | ${sent.toFixed(3)} | ${raw.toFixed(2)} | ${(downtime / raw).toFixed(2)}x |`)
    }
  } finally {
    for (const node of nodes) {
      const ps = await node.cli(['ps'], { json: true })
      const ids = ps.status === 0 ? (JSON.parse(ps.stdout) as Array<{ id: string }>).map(c => c.id) : []
      for (const id of ids) await node.cli(['stop', '--timeout', '1', id])
      if (ids.length > 0) await node.cli(['rm', '--force', ...ids])
    }
    await stopAll(nodes)
    sh('hosts_down')
    await rm(work, { recursive: true, force: true })
  }
}

await main()
