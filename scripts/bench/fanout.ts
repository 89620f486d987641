/**
 * Fan-out benchmark: one image from one node to N hosts at once, every host a network namespace capped at RATE
 * each way (tc tbf), side by side in the same run with a central registry (docker-registry + skopeo) and a
 * BitTorrent swarm (opentracker + aria2c) on the same kind of hosts (anchors/). Prints wall times, the ratio to
 * the ideal swarm time S/B, and the first holder's upload as a multiple of the image size. Run as root:
 *
 *   node scripts/bench/fanout.ts [N=8] [RATE=200mbit] [SIZE_MiB=64] [--no-anchors] [--logs=DIR] [--json=FILE] [--profile=DIR]
 *   node scripts/bench/fanout.ts --hosts=4,8,16 200mbit 64 --json=fanout.json   # a sweep over N, one row per N
 *
 * `--profile=DIR` writes a CPU profile (`node --cpu-prof`) of the first receiving daemon into DIR.
 * `--logs=DIR` writes every daemon's stderr to DIR/h<i>.log (set EMERGENCE_LOG=debug for details); `--json=FILE`
 * appends one JSON line per N (the input of scripts/bench/plot-fanout.ts). The hosts are network namespaces named
 * `embnfh<i>`, removed at the end even when a run fails.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, createWriteStream } from 'node:fs'
import { mkdtemp, rm, writeFile, chmod, mkdir } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { startNode, stopAll, type ClusterNode } from '../lib/cluster.ts'
import { netnsHosts } from '../lib/netns.ts'
import { cpuSeconds, settle } from '../lib/idle.ts'

const HERE = dirname(import.meta.filename)
const PFX = 'embnf'
/** Seventeen daemons starting at once on two loaded cores take longer than the default 30 s. */
const START_TIMEOUT_MS = 180_000

const { sh, ip: hostIp, wrap } = netnsHosts(PFX)


function anchor (script: string, n: number, rate: string, mb: number): number | undefined {
  const result = spawnSync('bash', [join(HERE, 'anchors', script), String(n), rate, String(mb)], { encoding: 'utf8', timeout: 900_000, env: { ...process.env, PFX } })
  const wall = /wall=([\d.]+)s/.exec(result.stdout)?.[1]
  if (wall === undefined) process.stderr.write(`${script} failed: ${result.stdout}${result.stderr}\n`)
  return wall !== undefined ? Number(wall) : undefined
}

async function buildImage (work: string, mb: number): Promise<string> {
  const layout = join(work, 'img')
  const run = (args: string[]): void => {
    const r = spawnSync('umoci', args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`umoci ${args.join(' ')}: ${r.stderr}`)
  }
  run(['init', '--layout', layout])
  run(['new', '--image', `${layout}:t`])
  const payload = join(work, 'payload')
  await writeFile(payload, randomBytes(mb * 1024 * 1024))
  run(['insert', '--image', `${layout}:t`, payload, '/payload'])
  return layout
}

function keepLog (node: ClusterNode, logs: string | undefined, name: string): void {
  if (logs === undefined) return
  const out = createWriteStream(join(logs, `${name}.log`))
  let rest = ''
  node.process.stderr?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n')
    rest = lines.pop() ?? ''
    // Milliseconds since this script started, so the hosts' logs line up.
    for (const line of lines) out.write(`${performance.now().toFixed(0).padStart(7)} ${line}\n`)
  })
  node.process.once('exit', () => { out.end() })
}

interface FanoutResult {
  wall: number
  each: number[]
  cliStart: number
  seedUpload: number
  imageBytes: number
  daemonCpu: number[]
  moved: number
  /** Peers each node was connected to when the pulls started. */
  peersAtStart: number[]
}

async function emergenceFanout (n: number, mb: number, work: string, logs: string | undefined): Promise<FanoutResult> {
  const layout = await buildImage(work, mb)
  const nodes: ClusterNode[] = []
  try {
    const seed = await startNode({ dataDir: join(work, 'h1'), listen: `/ip4/${hostIp(1)}/tcp/7701`, wrap: wrap(1), timeoutMs: START_TIMEOUT_MS })
    nodes.push(seed)
    keepLog(seed, logs, 'h1')
    const imported = await seed.cli(['image', 'import', `${layout}:t`, '--name', 'bench/fanout:1'], { json: true })
    if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`)
    const imageBytes = (JSON.parse(imported.stdout) as Array<{ bytesWritten: number }>)[0]?.bytesWritten ?? 0
    const profile = process.argv.find(a => a.startsWith('--profile='))?.slice('--profile='.length)
    const receivers = await Promise.all(Array.from({ length: n }, async (_, k) => await startNode({
      ...(profile !== undefined && k === 0 ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` } } : {}),
      dataDir: join(work, `h${k + 2}`), listen: `/ip4/${hostIp(k + 2)}/tcp/7701`, wrap: wrap(k + 2), bootstrap: [seed.address], trusted: [seed.peerId], timeoutMs: START_TIMEOUT_MS
    })))
    nodes.push(...receivers)
    receivers.forEach((node, k) => { keepLog(node, logs, `h${k + 2}`) })
    // Let every receiver meet the others (bootstrap + DHT) and finish starting before the clock starts, as in a
    // running cluster: at least 3 s, then until the daemons are nearly idle (starting 17 of them on 2 cores takes
    // longer than that, and a pull timed against their start-up measures the start-up).
    await new Promise(resolve => setTimeout(resolve, 3000))
    await settle(nodes)
    // What starting the CLI costs (Node, type stripping, the control socket round trip), part of every pull.
    const cliStart = await seconds(async () => await receivers[0]?.cli(['node', 'status']))
    const peersAtStart = await Promise.all(nodes.map(async node => (JSON.parse((await node.cli(['node', 'status'], { json: true })).stdout) as { peers: number }).peers))
    const cpuBefore = await Promise.all(nodes.map(async n => await cpuSeconds(n.process.pid)))
    const start = performance.now()
    const each: number[] = []
    const results = await Promise.all(receivers.map(async node => {
      const result = await node.cli(['pull', 'bench/fanout:1'])
      each.push((performance.now() - start) / 1000)
      return result
    }))
    const wall = (performance.now() - start) / 1000
    const daemonCpu = await Promise.all(nodes.map(async (n, i) => await cpuSeconds(n.process.pid) - (cpuBefore[i] ?? 0)))
    for (const r of results) if (r.status !== 0) throw new Error(`pull failed: ${r.stderr}`)
    const served = await Promise.all(nodes.map(async n => (JSON.parse((await n.cli(['node', 'status'], { json: true })).stdout) as { servedBytes: number }).servedBytes))
    const status = { servedBytes: served[0] ?? 0 }
    const moved = served.reduce((a, b) => a + b, 0)
    return { wall, each: each.sort((a, b) => a - b), cliStart, seedUpload: status.servedBytes, imageBytes, daemonCpu, moved, peersAtStart }
  } finally {
    await stopAll(nodes)
  }
}


async function seconds (fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}

interface SweepRow {
  n: number
  rate: string
  mb: number
  ideal: number
  /** Absent when the Emergence run failed (`failed` says why). */
  emergence?: number
  failed?: string
  registry: number | undefined
  torrent: number | undefined
  seedUpload?: number
  each?: number[]
  daemonCpu?: number[]
  moved?: number
  load: number
}

function report (n: number, ours: FanoutResult, load: number): void {
  const median = ours.each[Math.floor(ours.each.length / 2)] ?? 0
  console.log(`\nemergence: each pull finished after ${ours.each.map(s => s.toFixed(1)).join(', ')} s (median ${median.toFixed(1)} s); ` +
    `starting the CLI (\`emergence node status\`) takes ${ours.cliStart.toFixed(2)} s of each; ` +
    `daemons' CPU during the pulls: ${ours.daemonCpu.map(s => s.toFixed(1)).join(', ')} s (first holder first); ` +
    `bytes served in all: ${(ours.moved / (n * ours.imageBytes)).toFixed(2)}x what the ${n} pulls needed; ` +
    `peers connected at the start: ${ours.peersAtStart.join(', ')}; load average ${load.toFixed(2)}`)
}

async function fanoutOnce (n: number, rate: string, mb: number, anchors: boolean, logs: string | undefined): Promise<SweepRow> {
  const bytesPerSecond = Number(rate.replace('mbit', '')) * 1e6 / 8
  const ideal = mb * 1024 * 1024 / bytesPerSecond
  const work = await mkdtemp(join(tmpdir(), 'emergence-fanout-'))
  await chmod(work, 0o755)
  try {
    sh('hosts_down')
    sh(`hosts_up ${n + 1} ${rate}`)
    // A failed Emergence run (a pull timing out on an overloaded machine, say) is reported; the baselines still run.
    const ours = await emergenceFanout(n, mb, work, logs).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))
    sh('hosts_down')
    const registry = anchors ? anchor('registry-fanout.sh', n, rate, mb) : undefined
    const torrent = anchors ? anchor('torrent-fanout.sh', n, rate, mb) : undefined
    const row = (name: string, wall: number | undefined, upload?: string): string =>
      `| ${name} | ${wall !== undefined ? wall.toFixed(1) : 'n/a'} | ${wall !== undefined ? (wall / ideal).toFixed(2) + 'x' : '-'} | ${wall !== undefined && torrent !== undefined ? (wall / torrent).toFixed(2) + 'x' : '-'} | ${upload ?? '-'} |`
    console.log(`\nfan-out of a ${mb} MiB image to N=${n} hosts, every host capped at ${rate} each way; ideal swarm S/B = ${ideal.toFixed(1)} s\n`)
    console.log('| system | wall s | vs ideal S/B | vs BitTorrent | first holder upload / image |')
    console.log('|---|---|---|---|---|')
    const ok = ours instanceof Error ? undefined : ours
    console.log(row('emergence', ok?.wall, ok !== undefined ? `${(ok.seedUpload / ok.imageBytes).toFixed(2)}x` : 'failed'))
    console.log(row('docker-registry + skopeo', registry))
    console.log(row('BitTorrent (opentracker + aria2c)', torrent))
    const load = loadavg()[0] ?? 0
    if (ok !== undefined) report(n, ok, load)
    else console.log(`\nemergence failed: ${(ours as Error).message}; load average ${load.toFixed(2)}`)
    return {
      n, rate, mb, ideal, registry, torrent, load,
      ...(ok !== undefined
        ? { emergence: ok.wall, seedUpload: ok.seedUpload / ok.imageBytes, each: ok.each, daemonCpu: ok.daemonCpu, moved: ok.moved / (n * ok.imageBytes) }
        : { failed: (ours as Error).message })
    }
  } finally {
    sh('hosts_down')
    await rm(work, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const args = process.argv.slice(2).filter(a => !a.startsWith('--'))
  const flag = (name: string): string | undefined => process.argv.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const anchors = !process.argv.includes('--no-anchors')
  const logs = flag('logs')
  const json = flag('json')
  if (logs !== undefined) await mkdir(logs, { recursive: true })
  const hosts = flag('hosts')
  const sweep = (hosts ?? args.shift() ?? '8').split(',').map(Number)
  const rate = args[0] ?? '200mbit'
  const mb = Number(args[1] ?? 64)
  if (sweep.some(n => !Number.isInteger(n) || n < 1) || !Number.isFinite(mb) || !/^\d+mbit$/.test(rate)) {
    throw new Error('usage: fanout.ts [N|--hosts=N,N,...] [RATE e.g. 200mbit] [SIZE_MiB]')
  }
  for (const n of sweep) {
    if (logs !== undefined) await mkdir(join(logs, `n${n}`), { recursive: true })
    // One N failing (a pull that timed out on an overloaded machine, say) does not stop the sweep.
    const row = await fanoutOnce(n, rate, mb, anchors, logs !== undefined ? join(logs, `n${n}`) : undefined)
      .catch((err: unknown) => { console.log(`\nN=${n}: failed: ${err instanceof Error ? err.message : String(err)}`) })
    if (json !== undefined && row !== undefined) appendFileSync(json, JSON.stringify(row) + '\n')
  }
}

await main()
