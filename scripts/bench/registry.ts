/**
 * Registry benchmark (docs/benchmarks.md "Registry mirror"): OCI clients pulling one image through a node's
 * mirror against the same clients pulling it straight from Debian's docker-registry, in the same run. Run as root:
 *
 *   node scripts/bench/registry.ts [SIZE_MiB=64] [--hosts=8] [--rate=200mbit] [--reps=3] [--no-fanout] [--no-loopback]
 *
 * 1. Loopback, one client: `skopeo copy` and containerd's `ctr images pull` from the registry, against the same
 *    through the mirror of a fresh node that holds nothing (the tag from a trusted peer that holds the image,
 *    the blobs from it over libp2p, streamed to the client as they are verified), and `skopeo copy` again once
 *    the node holds the image. Each a fresh containerd and a fresh node; the median of `--reps`.
 * 2. Fan-out: `--hosts` network-namespace hosts (`embrh<i>`, each capped at `--rate` both ways), each with its
 *    own containerd, pull the image at once: from the registry on host 1, against through their local nodes'
 *    mirrors (configured by `emergence containerd configure`) with the image held by one node on host 1, which
 *    pulled it through from the registry before the clock starts; and `emergence pull` on the same hosts
 *    (fresh nodes, no containerd), which tells the mirror's own cost apart from the swarm's. The hosts are
 *    removed at the end.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildBusyboxImage } from '../lib/busybox-image.ts'
import { EMERGENCE_BIN, runToEnd, startNode, stopAll, type ClusterNode } from '../lib/cluster.ts'
import { netnsHosts } from '../lib/netns.ts'
import { startContainerd, type Containerd } from '../lib/containerd.ts'
import { settle } from '../lib/idle.ts'
import { freePort } from '../lib/ports.ts'

const PFX = 'embr'
const TAG = 'bench/img:1'
const NODE_ARGS = ['--nix-cache', 'off']

const argv = process.argv.slice(2)
const flag = (name: string, fallback: string): string => argv.find(a => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const SIZE_MIB = Number(argv.find(a => !a.startsWith('--')) ?? 64)
const HOSTS = Number(flag('hosts', '8'))
const RATE = flag('rate', '200mbit')
const REPS = Number(flag('reps', '3'))

function run (command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

const { sh, wrap } = netnsHosts(PFX)

async function seconds (fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function runAsync (command: string, args: string[]): Promise<void> {
  const result = await runToEnd(command, args)
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`)
}

/** The image: busybox and a SIZE_MiB random payload (one layer that does not compress), as an OCI layout. */
async function buildImage (work: string): Promise<string> {
  const layout = await buildBusyboxImage(join(work, 'image'))
  const payload = join(work, 'payload')
  await writeFile(payload, randomBytes(SIZE_MIB * 1024 * 1024))
  run('umoci', ['insert', '--image', `${layout}:1`, payload, '/payload'])
  return layout
}

/** docker-registry on `address` (`wrap`: inside a host); stopped by its PID at the end. */
async function startRegistry (work: string, address: string, wrap: string[] = []): Promise<() => void> {
  await mkdir(work, { recursive: true })
  const config = join(work, 'registry.yml')
  await writeFile(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'registry')}\nhttp:\n  addr: ${address}\n`)
  const [command, ...args] = [...wrap, 'docker-registry', 'serve', config]
  const child = spawn(command as string, args, { stdio: 'ignore' })
  const probe = [...wrap, 'curl', '-sf', '-o', '/dev/null', `http://${address}/v2/`]
  while (spawnSync(probe[0] as string, probe.slice(1)).status !== 0) await new Promise(resolve => setTimeout(resolve, 100))
  return () => { if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM') }
}

/** `emergence containerd configure` for `registry` with `mirror` first; returns the hosts directory. */
function configureHosts (dir: string, registry: string, mirror: string): string {
  run(EMERGENCE_BIN, ['containerd', 'configure', '--config-path', dir, '--registry-host', registry, '--server', `http://${registry}`, '--mirror', mirror])
  return dir
}

async function mirrorUrl (node: ClusterNode): Promise<string> {
  return (JSON.parse((await node.cli(['node', 'status'], { json: true })).stdout) as { registry: string }).registry
}

interface Row { what: string, direct: number, mirror: number }

/** Part 1: one client on loopback. */
async function loopback (work: string, layout: string): Promise<Row[]> {
  const registry = `127.0.0.1:${await freePort()}`
  const stopRegistry = await startRegistry(work, registry)
  const nodes: ClusterNode[] = []
  const containerds: Containerd[] = []
  const ref = `${registry}/${TAG}`
  try {
    run('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${ref}`])
    const seed = await startNode({ dataDir: join(work, 'seed'), extraArgs: [...NODE_ARGS, '--registry', 'off'] })
    nodes.push(seed)
    // Under the bare name too: a client names the mirror's repository without the registry host.
    const imported = await seed.cli(['image', 'pull', `docker://${ref}`, '--plain-http', '--tag', TAG])
    if (imported.status !== 0) throw new Error(`image pull: ${imported.stderr}`)
    const fresh = async (name: string): Promise<string> => {
      const node = await startNode({ dataDir: join(work, name), bootstrap: [seed.address], trusted: [seed.peerId], extraArgs: [...NODE_ARGS, '--registry', '127.0.0.1:0'] })
      nodes.push(node)
      await settle([seed, node])
      return (await mirrorUrl(node)).replace('http://', '')
    }
    const skopeo = async (from: string, out: string): Promise<number> => await seconds(async () => {
      await runAsync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${from}`, `oci:${join(work, out)}:1`])
    })
    const ctrPull = async (name: string, args: string[]): Promise<number> => {
      const containerd = await startContainerd(join(work, name))
      containerds.push(containerd)
      return await seconds(async () => await containerd.ctr(['images', 'pull', ...args, ref]))
    }
    const rows = { skopeo: [] as number[][], warm: [] as number[][], ctr: [] as number[][] }
    for (let rep = 0; rep < REPS; rep++) {
      const mirror = await fresh(`node-s${rep}`)
      rows.skopeo.push([await skopeo(ref, `direct-s${rep}`), await skopeo(`${mirror}/${TAG}`, `mirror-s${rep}`)])
      rows.warm.push([await skopeo(ref, `direct-w${rep}`), await skopeo(`${mirror}/${TAG}`, `mirror-w${rep}`)])
      const ctrMirror = await fresh(`node-c${rep}`)
      const hosts = configureHosts(join(work, `certs-c${rep}`), registry, `http://${ctrMirror}`)
      rows.ctr.push([await ctrPull(`ctr-d${rep}`, ['--plain-http']), await ctrPull(`ctr-m${rep}`, ['--hosts-dir', hosts])])
      await Promise.all(containerds.splice(0).map(async c => { await c.stop() }))
      await stopAll(nodes.splice(1))
    }
    const row = (what: string, pairs: number[][]): Row => ({ what, direct: median(pairs.map(p => p[0] ?? 0)), mirror: median(pairs.map(p => p[1] ?? 0)) })
    return [row('skopeo copy, node holds nothing (from a peer)', rows.skopeo), row('skopeo copy, node holds the image', rows.warm), row('ctr images pull, node holds nothing (from a peer)', rows.ctr)]
  } finally {
    await Promise.all(containerds.map(async c => { await c.stop() }))
    await stopAll(nodes)
    stopRegistry()
  }
}

const hostIp = (i: number): string => `198.18.0.${i + 1}`

/** Part 2: `HOSTS` containerd hosts pull at once, from the registry on host 1 or through their local nodes. */
async function fanout (work: string, layout: string): Promise<Row[]> {
  sh(`hosts_down; hosts_up ${HOSTS + 1} ${RATE}`)
  const registry = `${hostIp(1)}:5000`
  const ref = `${registry}/${TAG}`
  const receivers = Array.from({ length: HOSTS }, (_, k) => k + 2)
  let stopRegistry = (): void => {}
  const nodes: ClusterNode[] = []
  const containerds: Containerd[] = []
  const pullAll = async (name: string, args: (host: number) => string[]): Promise<number> => {
    containerds.push(...await Promise.all(receivers.map(async h => await startContainerd(join(work, `${name}${h}`), { wrap: wrap(h) }))))
    const wall = await seconds(async () => await Promise.all(containerds.map(async (c, k) => await c.ctr(['images', 'pull', ...args(receivers[k] ?? 0), ref]))))
    await Promise.all(containerds.splice(0).map(async c => { await c.stop() }))
    return wall
  }
  try {
    stopRegistry = await startRegistry(join(work, 'fanout'), registry, wrap(1))
    run('ip', ['netns', 'exec', `${PFX}h1`, 'skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${ref}`])
    const direct = await pullAll('direct', () => ['--plain-http'])
    const upstream = ['--registry-upstream', `http://${registry}`]
    const seed = await startNode({ dataDir: join(work, 'fseed'), listen: `/ip4/${hostIp(1)}/tcp/7701`, wrap: wrap(1), extraArgs: [...NODE_ARGS, '--registry', 'off', ...upstream], timeoutMs: 180_000 })
    nodes.push(seed)
    const pulled = await seed.cli(['pull', ref])
    if (pulled.status !== 0) throw new Error(`seed pull: ${pulled.stderr}`)
    // Fresh receivers (empty stores) for each of the two Emergence runs, settled before the clock starts.
    const receiversUp = async (name: string): Promise<ClusterNode[]> => {
      const started = await Promise.all(receivers.map(async h => await startNode({
        dataDir: join(work, `${name}${h}`), listen: `/ip4/${hostIp(h)}/tcp/7701`, wrap: wrap(h), bootstrap: [seed.address], trusted: [seed.peerId], extraArgs: [...NODE_ARGS, '--registry', '127.0.0.1:7703', ...upstream], timeoutMs: 180_000
      })))
      nodes.push(...started)
      await new Promise(resolve => setTimeout(resolve, 3000))
      await settle(nodes)
      return started
    }
    // The same hosts without containerd: `emergence pull` on every node at once (what the mirror adds, apart).
    const cliNodes = await receiversUp('fcli')
    let fromUpstream = 0
    const cli = await seconds(async () => await Promise.all(cliNodes.map(async node => {
      const result = await node.cli(['pull', ref], { json: true })
      if (result.status !== 0) throw new Error(`pull: ${result.stderr}`)
      fromUpstream += Object.values((JSON.parse(result.stdout) as { fromUpstream?: Record<string, number> }).fromUpstream ?? {}).reduce((a, b) => a + b, 0)
    })))
    process.stdout.write(`the ${HOSTS} \`emergence pull\`s took ${fromUpstream} bytes from the registry (the rest from peers)\n`)
    await stopAll(nodes.splice(1))
    await receiversUp('fmirror')
    const hosts = configureHosts(join(work, 'fanout-certs'), registry, 'http://127.0.0.1:7703')
    const mirror = await pullAll('mirror', () => ['--hosts-dir', hosts])
    return [
      { what: `fan-out: ${HOSTS} containerd hosts at once, ${RATE} each`, direct, mirror },
      { what: `fan-out: \`emergence pull\` on the same ${HOSTS} hosts`, direct, mirror: cli }
    ]
  } finally {
    await Promise.all(containerds.map(async c => { await c.stop() }))
    await stopAll(nodes)
    stopRegistry()
    sh('hosts_down')
  }
}

async function main (): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (containerd, network namespaces)')
  const work = await mkdtemp(join(tmpdir(), 'emergence-bench-registry-'))
  const loadBefore = loadavg()[0]?.toFixed(1) ?? '?'
  try {
    const layout = await buildImage(work)
    const rows = argv.includes('--no-loopback') ? [] : await loopback(work, layout)
    if (!argv.includes('--no-fanout')) rows.push(...await fanout(work, layout))
    process.stdout.write(`registry benchmark: image ${SIZE_MIB} MiB payload + busybox, loadavg ${loadBefore} at the start, ${loadavg()[0]?.toFixed(1) ?? '?'} at the end\n`)
    process.stdout.write(`| ${'pull'.padEnd(52)} | registry | Emergence | Emergence / registry |\n|---|---|---|---|\n`)
    for (const r of rows) process.stdout.write(`| ${r.what.padEnd(52)} | ${r.direct.toFixed(2)} s | ${r.mirror.toFixed(2)} s | ${(r.mirror / r.direct).toFixed(2)} |\n`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
