/**
 * Fan-out benchmark: one image from one node to N hosts at once, every host a network namespace capped at RATE
 * each way (tc tbf), side by side in the same run with a central registry (docker-registry + skopeo) and a
 * BitTorrent swarm (opentracker + aria2c) on the same kind of hosts (anchors/). Prints wall times, the ratio to
 * the ideal swarm time S/B, and the first holder's upload as a multiple of the image size. Run as root:
 *
 *   node scripts/bench/fanout.ts [N=8] [RATE=200mbit] [SIZE_MiB=64] [--no-anchors]
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { startNode, stopAll, type ClusterNode } from '../lib/cluster.ts'

const HERE = dirname(import.meta.filename)
const LIB = join(HERE, 'anchors', 'netns-lib.sh')
const PFX = 'emf'

function sh (script: string): string {
  const result = spawnSync('bash', ['-c', `PFX=${PFX}; source ${LIB}; ${script}`], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${script}: ${result.stderr}`)
  return result.stdout
}

const hostIp = (i: number): string => `198.18.0.${i + 1}`
const wrap = (i: number): string[] => ['ip', 'netns', 'exec', `${PFX}h${i}`]

function anchor (script: string, n: number, rate: string, mb: number): number | undefined {
  const result = spawnSync('bash', [join(HERE, 'anchors', script), String(n), rate, String(mb)], { encoding: 'utf8', timeout: 600_000 })
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

async function emergenceFanout (n: number, mb: number, work: string): Promise<{ wall: number, seedUpload: number, imageBytes: number }> {
  const layout = await buildImage(work, mb)
  const nodes: ClusterNode[] = []
  try {
    const seed = await startNode({ dataDir: join(work, 'h1'), listen: `/ip4/${hostIp(1)}/tcp/7701`, wrap: wrap(1) })
    nodes.push(seed)
    const imported = await seed.cli(['image', 'import', `${layout}:t`, '--name', 'bench/fanout:1'], { json: true })
    if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`)
    const imageBytes = (JSON.parse(imported.stdout) as Array<{ bytesWritten: number }>)[0]?.bytesWritten ?? 0
    const receivers = await Promise.all(Array.from({ length: n }, async (_, k) => await startNode({
      dataDir: join(work, `h${k + 2}`), listen: `/ip4/${hostIp(k + 2)}/tcp/7701`, wrap: wrap(k + 2), bootstrap: [seed.address]
    })))
    nodes.push(...receivers)
    // Let every receiver meet the others (bootstrap + DHT) before the clock starts, as in a running cluster.
    await new Promise(resolve => setTimeout(resolve, 3000))
    const start = process.hrtime.bigint()
    const results = await Promise.all(receivers.map(async node => await node.cli(['pull', 'bench/fanout:1'])))
    const wall = Number(process.hrtime.bigint() - start) / 1e9
    for (const r of results) if (r.status !== 0) throw new Error(`pull failed: ${r.stderr}`)
    const status = JSON.parse((await seed.cli(['node', 'status'], { json: true })).stdout) as { servedBytes: number }
    return { wall, seedUpload: status.servedBytes, imageBytes }
  } finally {
    await stopAll(nodes)
  }
}

async function main (): Promise<void> {
  const args = process.argv.slice(2).filter(a => !a.startsWith('--'))
  const anchors = !process.argv.includes('--no-anchors')
  const n = Number(args[0] ?? 8)
  const rate = args[1] ?? '200mbit'
  const mb = Number(args[2] ?? 64)
  const bytesPerSecond = Number(rate.replace('mbit', '')) * 1e6 / 8
  const ideal = mb * 1024 * 1024 / bytesPerSecond
  const work = await mkdtemp(join(tmpdir(), 'emergence-fanout-'))
  await chmod(work, 0o755)
  try {
    sh('hosts_down')
    sh(`hosts_up ${n + 1} ${rate}`)
    const ours = await emergenceFanout(n, mb, work)
    sh('hosts_down')
    const registry = anchors ? anchor('registry-fanout.sh', n, rate, mb) : undefined
    const torrent = anchors ? anchor('torrent-fanout.sh', n, rate, mb) : undefined
    const row = (name: string, wall: number | undefined, upload?: string): string =>
      `| ${name} | ${wall !== undefined ? wall.toFixed(1) : 'n/a'} | ${wall !== undefined ? (wall / ideal).toFixed(2) + 'x' : '-'} | ${wall !== undefined && torrent !== undefined ? (wall / torrent).toFixed(2) + 'x' : '-'} | ${upload ?? '-'} |`
    console.log(`\nfan-out of a ${mb} MiB image to N=${n} hosts, every host capped at ${rate} each way; ideal swarm S/B = ${ideal.toFixed(1)} s\n`)
    console.log('| system | wall s | vs ideal S/B | vs BitTorrent | first holder upload / image |')
    console.log('|---|---|---|---|---|')
    console.log(row('emergence', ours.wall, `${(ours.seedUpload / ours.imageBytes).toFixed(2)}x`))
    console.log(row('docker-registry + skopeo', registry))
    console.log(row('BitTorrent (opentracker + aria2c)', torrent))
  } finally {
    sh('hosts_down')
    await rm(work, { recursive: true, force: true })
  }
}

await main()
