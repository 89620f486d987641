/**
 * Nix closure pulls across network-namespace hosts (anchors/netns-lib.sh: one bridge, every host capped at RATE
 * each way with `tc tbf`): four hosts share a chain closure of N paths of SIZE_KiB (as anchors/nix-copy.sh builds
 * it) and P fresh hosts pull it at once with `emergence nix pull`, each into an empty chroot store; side by side in
 * the same run with the same P hosts running `nix copy --from` one HTTP binary cache host (uncompressed NARs,
 * `python3 -m http.server` on host 1, as anchors/nix-copy.sh serves it). The ideal is S/B: the closure's NAR
 * bytes over one host's download rate. Hosts are namespaces `embnxh<i>`, removed at the end even on failure.
 * Run as root (single-user Nix):
 *
 *   node scripts/bench/nix-hosts.ts [--pullers=1,8] [--rate=200mbit] [--paths=100] [--kib=2048] [--runs=1] [--logs=DIR]
 *
 * `--logs=DIR` keeps every daemon's stderr in DIR (set EMERGENCE_LOG=debug for details).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, stopAll, type ClusterNode } from '../lib/cluster.ts'
import { netnsHosts } from '../lib/netns.ts'
import { cpuSeconds, settle } from '../lib/idle.ts'
import { NIX_ENV, buildChain, flushDisks, median, nixCopyArgs, sh, verifyClosure, waitForHttp, writeHttpCache, type Chain } from './nix-lib.ts'

const PFX = 'embnx'
const SHARERS = 4
const CACHE_PORT = 8080
/** Many daemons starting at once on two loaded cores take longer than the default 30 s. */
const START_TIMEOUT_MS = 180_000

const { sh: hosts, ip: hostIp, wrap } = netnsHosts(PFX)
const flag = (name: string, fallback: string): string => process.argv.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const pullerHost = (k: number): number => SHARERS + 1 + k
const logs = process.argv.find(a => a.startsWith('--logs='))?.slice('--logs='.length)

function keepLog (node: ClusterNode, name: string): ClusterNode {
  if (logs !== undefined) node.process.stderr?.pipe(createWriteStream(join(logs, `${name}.log`)))
  return node
}

interface Round {
  seconds: number
  each: number[]
  cpu?: number[]
  /** MB sent by each sharing host. */
  bySharer?: number[]
}

const common = { env: NIX_ENV, extraArgs: ['--nix-cache', 'off'], timeoutMs: START_TIMEOUT_MS }

async function startSharers (work: string, chain: Chain, nodes: ClusterNode[]): Promise<ClusterNode[]> {
  const first = keepLog(await startNode({ ...common, dataDir: join(work, 's1'), listen: `/ip4/${hostIp(1)}/tcp/7701`, wrap: wrap(1) }), 's1')
  nodes.push(first)
  const rest = await Promise.all(Array.from({ length: SHARERS - 1 }, async (_, k) => keepLog(await startNode({
    ...common, dataDir: join(work, `s${k + 2}`), listen: `/ip4/${hostIp(k + 2)}/tcp/7701`, wrap: wrap(k + 2), bootstrap: [first.address]
  }), `s${k + 2}`)))
  nodes.push(...rest)
  const sharers = [first, ...rest]
  for (const sharer of sharers) {
    const shared = await sharer.cli(['nix', 'share', chain.root])
    if (shared.status !== 0) throw new Error(`share failed: ${shared.stderr}`)
  }
  return sharers
}

/** P fresh hosts pull the closure at once from the sharers (and whatever they learn of each other). */
async function emergenceRound (work: string, sharers: ClusterNode[], chain: Chain, p: number, tag: string): Promise<Round> {
  const pullers: ClusterNode[] = []
  try {
    pullers.push(...await Promise.all(Array.from({ length: p }, async (_, k) => keepLog(await startNode({
      ...common,
      dataDir: join(work, `${tag}-p${k}`),
      listen: `/ip4/${hostIp(pullerHost(k))}/tcp/7701`,
      wrap: wrap(pullerHost(k)),
      bootstrap: sharers.map(s => s.address),
      extraArgs: [...common.extraArgs, '--nix-store', join(work, `${tag}-p${k}-nix`)]
    }), `${tag}-p${k}`))))
    await settle([...sharers, ...pullers])
    await flushDisks()
    const all = [...pullers, ...sharers]
    const cpuBefore = await Promise.all(all.map(async n => await cpuSeconds(n.process.pid)))
    const start = performance.now()
    const each: number[] = []
    const results = await Promise.all(pullers.map(async node => {
      const result = await node.cli(['nix', 'pull', chain.root], { json: true })
      each.push((performance.now() - start) / 1000)
      return result
    }))
    const seconds = (performance.now() - start) / 1000
    const cpu = await Promise.all(all.map(async (n, i) => await cpuSeconds(n.process.pid) - (cpuBefore[i] ?? 0)))
    for (const r of results) if (r.status !== 0) throw new Error(`pull failed: ${r.stderr}`)
    for (let k = 0; k < p; k++) await verifyClosure(join(work, `${tag}-p${k}-nix`), chain.root, chain.paths)
    // MB each sharer sent, over all pullers (the pull's JSON result names the peers it fetched from).
    const bySharer = sharers.map(s => results.reduce((sum, r) => sum + ((JSON.parse(r.stdout) as { fromPeers: Record<string, number> }).fromPeers[s.peerId] ?? 0), 0) / 1e6)
    return { seconds, each: each.sort((a, b) => a - b), cpu, bySharer }
  } finally {
    await stopAll(pullers)
  }
}

/** The same P hosts run `nix copy --from` the HTTP cache on host 1 at once. */
async function nixCopyRound (work: string, chain: Chain, p: number, tag: string): Promise<Round> {
  await flushDisks()
  const start = performance.now()
  const each: number[] = []
  await Promise.all(Array.from({ length: p }, async (_, k) => {
    const [cmd, ...args] = [...wrap(pullerHost(k)), 'nix', ...nixCopyArgs(`http://${hostIp(1)}:${CACHE_PORT}`, join(work, `${tag}-c${k}-nix`), chain.root)]
    await sh(cmd as string, args, { ...NIX_ENV, XDG_CACHE_HOME: join(work, `${tag}-c${k}-xdg`) })
    each.push((performance.now() - start) / 1000)
  }))
  const seconds = (performance.now() - start) / 1000
  for (let k = 0; k < p; k++) await verifyClosure(join(work, `${tag}-c${k}-nix`), chain.root, chain.paths)
  return { seconds, each: each.sort((a, b) => a - b) }
}

/** The stores and data dirs of one round (hundreds of MB each). */
async function removeRound (work: string, tag: string): Promise<void> {
  for (const name of await readdir(work)) if (name.startsWith(`${tag}-`)) await rm(join(work, name), { recursive: true, force: true })
}

async function main (): Promise<void> {
  const pullerCounts = flag('pullers', '1,8').split(',').map(Number)
  const rate = flag('rate', '200mbit')
  const paths = Number(flag('paths', '100'))
  const kib = Number(flag('kib', '2048'))
  const runs = Number(flag('runs', '1'))
  if (pullerCounts.some(p => !Number.isInteger(p) || p < 1) || !/^\d+mbit$/.test(rate) || !(paths > 0) || !(kib > 0) || !(runs > 0)) {
    throw new Error('usage: nix-hosts.ts [--pullers=1,8] [--rate=200mbit] [--paths=100] [--kib=2048] [--runs=1]')
  }
  const work = await mkdtemp(join(tmpdir(), 'emergence-bench-nixhosts-'))
  await chmod(work, 0o755)
  const nodes: ClusterNode[] = []
  let server: ChildProcess | undefined
  try {
    process.stderr.write(`building a chain of ${paths} paths of ${kib} KiB...\n`)
    const chain = await buildChain(work, paths, kib)
    const ideal = chain.narBytes / (Number(rate.replace('mbit', '')) * 1e6 / 8)
    hosts('hosts_down')
    hosts(`hosts_up ${SHARERS + Math.max(...pullerCounts)} ${rate}`)
    const cache = join(work, 'http-cache')
    await writeHttpCache(cache, chain.root)
    server = spawn(wrap(1)[0] as string, [...wrap(1).slice(1), 'python3', '-m', 'http.server', String(CACHE_PORT), '--bind', hostIp(1)], { cwd: cache, stdio: 'ignore' })
    await waitForHttp(`http://${hostIp(1)}:${CACHE_PORT}/nix-cache-info`, wrap(2))
    const sharers = await startSharers(work, chain, nodes)
    console.log(`\nclosure: ${chain.paths} paths, ${(chain.narBytes / 1e6).toFixed(1)} MB of NARs; every host capped at ${rate} each way; ideal S/B = ${ideal.toFixed(1)} s\n`)
    console.log('| pulling hosts | round | emergence s (4 sharing hosts) | vs S/B | nix copy from 1 cache host s | vs S/B | emergence / nix copy | load |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const p of pullerCounts) {
      const ours: number[] = []
      const theirs: number[] = []
      for (let round = 1; round <= runs; round++) {
        const tag = `p${p}r${round}`
        const e = await emergenceRound(work, sharers, chain, p, tag)
        const c = await nixCopyRound(work, chain, p, tag)
        ours.push(e.seconds)
        theirs.push(c.seconds)
        console.log(`| ${p} | ${round} | ${e.seconds.toFixed(1)} | ${(e.seconds / ideal).toFixed(2)}x | ${c.seconds.toFixed(1)} | ${(c.seconds / ideal).toFixed(2)}x | ${(e.seconds / c.seconds).toFixed(2)}x | ${loadavg()[0]?.toFixed(1)} |`)
        process.stderr.write(`P=${p} round ${round}: emergence each ${e.each.map(s => s.toFixed(1)).join(', ')} s; daemon CPU (pullers, then sharers) ${e.cpu?.map(s => s.toFixed(1)).join(', ')} s; MB sent by each sharer ${e.bySharer?.map(s => s.toFixed(0)).join(', ')}; nix copy each ${c.each.map(s => s.toFixed(1)).join(', ')} s\n`)
        await removeRound(work, tag)
      }
      if (runs > 1) {
        const [a, b] = [median(ours), median(theirs)]
        console.log(`| ${p} | median | ${a.toFixed(1)} | ${(a / ideal).toFixed(2)}x | ${b.toFixed(1)} | ${(b / ideal).toFixed(2)}x | ${(a / b).toFixed(2)}x | |`)
      }
    }
  } finally {
    server?.kill('SIGTERM')
    await stopAll(nodes)
    hosts('hosts_down')
    await rm(work, { recursive: true, force: true })
  }
}

await main()
