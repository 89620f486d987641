/**
 * Bootstrap benchmark (docs/automata.md "Bootstrap"): a fresh node started with one bootstrap address learns the
 * cluster's desired set (three images) and pulls it from its peers, against a fresh host pulling the same three
 * images from Debian's docker-registry with skopeo, in the same run, on the same kind of hosts: network
 * namespaces on one bridge, every host capped at RATE each way (anchors/netns-lib.sh). Run as root:
 *
 *   node scripts/bench/bootstrap.ts [SEEDS=3] [RATE=200mbit] [SIZES_MiB=16,24,32]
 *
 * Emergence: SEEDS nodes hold the images and host 1 has put them in the desired set; the clock starts when the
 * fresh node's process is spawned (`node start --bootstrap <host 2> --trusted <host 1>`: host 1 is the
 * publisher) and stops when its `sync status` says in sync; the seeds are idle by then (scripts/lib/idle.ts). Registry: the registry on host 1 holds the images
 * (pushed before the clock starts); the clock covers three `skopeo copy` run at once on the fresh host. A third
 * row splits sync's part from the pull's: a running node that syncs nothing pulls the same images with three
 * `emergence pull` at once.
 * Hosts are namespaces `embsbh<i>`, removed at the end even when a run fails.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '../../src/daemon/control-client.ts'
import { socketPath } from '../../src/daemon/socket-path.ts'
import type { SyncStatus } from '../../src/sync/index.ts'
import { runToEnd, startNode, stopAll, type CliResult, type ClusterNode } from '../lib/cluster.ts'
import { settle } from '../lib/idle.ts'
import { netnsHosts } from '../lib/netns.ts'

const PFX = 'embsb'
const { sh, ip: hostIp, wrap } = netnsHosts(PFX)

async function onHost (i: number, args: string[]): Promise<CliResult> {
  const [cmd = 'ip', ...rest] = wrap(i)
  return await runToEnd(cmd, [...rest, ...args])
}
const START_TIMEOUT_MS = 120_000
const WAIT_MS = 600_000

function umoci (args: string[]): void {
  const r = spawnSync('umoci', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`umoci ${args.join(' ')}: ${r.stderr}`)
}

/** One layout with an image per size (tags i0, i1, ...), each a layer of random bytes. */
async function buildImages (work: string, sizes: number[]): Promise<{ layout: string, tags: string[] }> {
  const layout = join(work, 'img')
  umoci(['init', '--layout', layout])
  umoci(['new', '--image', `${layout}:base`])
  const tags = sizes.map((_, i) => `i${i}`)
  for (const [i, mb] of sizes.entries()) {
    const payload = join(work, `payload${i}`)
    await writeFile(payload, randomBytes(mb * 1024 * 1024))
    umoci(['insert', '--image', `${layout}:base`, '--tag', `i${i}`, payload, `/payload${i}`])
  }
  return { layout, tags }
}

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function syncStatus (node: ClusterNode): Promise<SyncStatus> {
  return await controlRequest(socketPath(node.dataDir), 'GET', '/v1/sync/status') as SyncStatus
}

interface Ours {
  /** Spawn of the fresh node to in sync. */
  wall: number
  /** Node answering to in sync. */
  afterStart: number
  fromPeers: number
  /** The same images pulled with `emergence pull` by a running node told what to pull (no sync). */
  pull: number
}

/** A node that syncs nothing (`syncPublishers: []`) pulls the set with three `emergence pull` at once. */
async function plainPull (host: number, work: string, entry: ClusterNode, first: ClusterNode, extra: string[], tags: string[]): Promise<{ node: ClusterNode, seconds: number }> {
  const config = join(work, 'no-sync.yaml')
  await writeFile(config, 'syncPublishers: []\n')
  const node = await startNode({ dataDir: join(work, `h${host}`), listen: `/ip4/${hostIp(host)}/tcp/7701`, wrap: wrap(host), bootstrap: [entry.address], trusted: [first.peerId], extraArgs: [...extra, '--config', config], timeoutMs: START_TIMEOUT_MS })
  await settle([node])
  const start = performance.now()
  const pulls = await Promise.all(tags.map(async tag => await node.cli(['pull', `bench/${tag}:1`])))
  const seconds = (performance.now() - start) / 1000
  for (const r of pulls) if (r.status !== 0) throw new Error(`pull failed: ${r.stderr}`)
  return { node, seconds }
}

async function emergenceBootstrap (seeds: number, work: string, layout: string, tags: string[]): Promise<Ours> {
  const nodes: ClusterNode[] = []
  try {
    for (let i = 1; i <= seeds; i++) {
      for (const tag of tags) {
        const r = await runToEnd('bin/emergence', ['--data-dir', join(work, `h${i}`), 'image', 'import', `${layout}:${tag}`, '--name', `bench/${tag}:1`])
        if (r.status !== 0) throw new Error(`import failed: ${r.stderr}`)
      }
    }
    const extra = ['--nix-cache', 'off', '--registry', 'off', '--admin', 'off']
    const first = await startNode({ dataDir: join(work, 'h1'), listen: `/ip4/${hostIp(1)}/tcp/7701`, wrap: wrap(1), extraArgs: extra, timeoutMs: START_TIMEOUT_MS })
    nodes.push(first)
    nodes.push(...await Promise.all(Array.from({ length: seeds - 1 }, async (_, k) => await startNode({
      dataDir: join(work, `h${k + 2}`), listen: `/ip4/${hostIp(k + 2)}/tcp/7701`, wrap: wrap(k + 2), bootstrap: [first.address], trusted: [first.peerId], extraArgs: extra, timeoutMs: START_TIMEOUT_MS
    }))))
    for (const tag of tags) {
      const r = await first.cli(['sync', 'add', `bench/${tag}:1`])
      if (r.status !== 0) throw new Error(`sync add failed: ${r.stderr}`)
    }
    for (const node of nodes) await until('the seeds in sync', async () => (await syncStatus(node)).inSync)
    // As in a running cluster, the seeds have finished starting (piece lists of what they imported) before a node joins.
    await settle(nodes)
    const fresh = seeds + 1
    const entry = nodes[1] ?? first
    const start = performance.now()
    const node = await startNode({ dataDir: join(work, `h${fresh}`), listen: `/ip4/${hostIp(fresh)}/tcp/7701`, wrap: wrap(fresh), bootstrap: [entry.address], trusted: [first.peerId], extraArgs: extra, timeoutMs: START_TIMEOUT_MS })
    const started = performance.now()
    nodes.push(node)
    await until('the fresh node in sync', async () => {
      const status = await syncStatus(node)
      return status.inSync && status.items.length === tags.length
    })
    const end = performance.now()
    const counters = await controlRequest(socketPath(node.dataDir), 'GET', '/v1/counters') as { received: Record<string, number> }
    // The bootstrapped node leaves, so that the plain pull has the same peers to pull from.
    await node.stop()
    const plain = await plainPull(seeds + 2, work, entry, first, extra, tags)
    nodes.push(plain.node)
    return { wall: (end - start) / 1000, afterStart: (end - started) / 1000, fromPeers: Object.keys(counters.received).length, pull: plain.seconds }
  } finally {
    await stopAll(nodes)
  }
}

async function registryPull (seeds: number, work: string, layout: string, tags: string[]): Promise<number> {
  const config = join(work, 'registry.yml')
  await writeFile(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'registry')}\nhttp:\n  addr: ${hostIp(1)}:5000\nlog:\n  level: error\n`)
  const [cmd = 'ip', ...rest] = wrap(1)
  const registry = spawn(cmd, [...rest, 'docker-registry', 'serve', config], { stdio: 'ignore' })
  try {
    await until('the registry', async () => (await onHost(1, ['curl', '-sf', `http://${hostIp(1)}:5000/v2/`])).status === 0)
    for (const tag of tags) {
      const r = await onHost(1, ['skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${hostIp(1)}:5000/bench/${tag}:1`])
      if (r.status !== 0) throw new Error(`push failed: ${r.stderr}`)
    }
    const fresh = seeds + 2
    await rm(join(work, 'pulled'), { recursive: true, force: true })
    const start = performance.now()
    const pulls = await Promise.all(tags.map(async tag => await onHost(fresh, ['skopeo', 'copy', '-q', '--src-tls-verify=false',
      `docker://${hostIp(1)}:5000/bench/${tag}:1`, `oci:${join(work, 'pulled')}:${tag}`])))
    const wall = (performance.now() - start) / 1000
    for (const r of pulls) if (r.status !== 0) throw new Error(`skopeo pull failed: ${r.stderr}`)
    return wall
  } finally {
    const exited = new Promise(resolve => registry.once('exit', resolve))
    if (registry.exitCode === null && registry.signalCode === null) registry.kill('SIGTERM')
    await exited
  }
}

async function main (): Promise<void> {
  const [seedsArg = '3', rate = '200mbit', sizesArg = '16,24,32'] = process.argv.slice(2)
  const seeds = Number(seedsArg)
  const sizes = sizesArg.split(',').map(Number)
  if (!Number.isInteger(seeds) || seeds < 2 || !/^\d+mbit$/.test(rate) || sizes.some(s => !Number.isInteger(s) || s < 1)) {
    throw new Error('usage: bootstrap.ts [SEEDS>=2] [RATE e.g. 200mbit] [SIZES_MiB e.g. 16,24,32]')
  }
  const total = sizes.reduce((a, b) => a + b, 0)
  const ideal = total * 1024 * 1024 / (Number(rate.replace('mbit', '')) * 1e6 / 8)
  const work = await mkdtemp(join(tmpdir(), 'emergence-bootstrap-'))
  await chmod(work, 0o755)
  try {
    sh('hosts_down')
    sh(`hosts_up ${seeds + 2} ${rate}`)
    const { layout, tags } = await buildImages(work, sizes)
    const ours = await emergenceBootstrap(seeds, work, layout, tags)
    const registry = await registryPull(seeds, work, layout, tags)
    console.log(`\nbootstrap of a fresh host: ${tags.length} images (${sizes.join(' + ')} MiB of random layers), every host capped at ${rate} each way; ideal S/B = ${ideal.toFixed(1)} s\n`)
    console.log('| system | wall s | vs registry | vs ideal S/B |')
    console.log('|---|---|---|---|')
    console.log(`| emergence: fresh node, one bootstrap address, ${seeds} peers hold the set | ${ours.wall.toFixed(1)} | ${(ours.wall / registry).toFixed(2)}x | ${(ours.wall / ideal).toFixed(2)}x |`)
    console.log(`| emergence: a running node, 3 parallel \`emergence pull\` (no sync) | ${ours.pull.toFixed(1)} | ${(ours.pull / registry).toFixed(2)}x | ${(ours.pull / ideal).toFixed(2)}x |`)
    console.log(`| docker-registry + 3 parallel skopeo copy | ${registry.toFixed(1)} | 1.00x | ${(registry / ideal).toFixed(2)}x |`)
    console.log(`\nemergence: ${ours.afterStart.toFixed(1)} s of it after the node answered (start-up ${(ours.wall - ours.afterStart).toFixed(1)} s); bytes from ${ours.fromPeers} peer(s); load average ${(loadavg()[0] ?? 0).toFixed(2)}`)
  } finally {
    sh('hosts_down')
    await rm(work, { recursive: true, force: true })
  }
}

await main()
