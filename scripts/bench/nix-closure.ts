/**
 * Nix closure benchmark: a chain of N paths of SIZE_KiB random data each (as anchors/nix-copy.sh builds it),
 * shared by two nodes (from the system store) and pulled by a third with `emergence nix pull` into an empty second Nix store, side by
 * side in the same run with `nix copy --from` a plain HTTP binary cache of the same closure (`nix copy --to
 * file://DIR?compression=none`, served by `python3 -m http.server` on loopback) into another empty store.
 * Each round pulls with a fresh node into a fresh store, then copies with Nix into a fresh store; prints every
 * round and the medians. Run as root (single-user Nix):
 *
 *   node scripts/bench/nix-closure.ts [N=100] [SIZE_KiB=2048] [--runs=3] [--profile=DIR]
 *
 * `--profile=DIR` writes a CPU profile of each puller daemon (`node --cpu-prof`) into DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, stopAll, runToEnd, EMERGENCE_BIN, type ClusterNode } from '../lib/cluster.ts'
import { cpuSeconds, settle } from '../lib/idle.ts'
import { freePort } from '../lib/ports.ts'
import { NIX_ENV, buildChain, flushDisks, median, nixCopyArgs, sh, verifyClosure, waitForHttp, writeHttpCache } from './nix-lib.ts'

/** `nix copy --from` the plain HTTP cache at `url` into an empty store: seconds. */
async function nixCopyOnce (work: string, url: string, root: string, paths: number, round: number): Promise<number> {
  const target = join(work, `nix-copy-store-${round}`)
  await flushDisks()
  const started = performance.now()
  await sh('nix', nixCopyArgs(url, target, root), { ...NIX_ENV, XDG_CACHE_HOME: join(work, `xdg-${round}`) })
  const seconds = (performance.now() - started) / 1000
  await verifyClosure(target, root, paths)
  return seconds
}

interface EmergenceRun {
  seconds: number
  fromPeers: Record<string, number>
  /** CPU seconds of the daemons during the pull: the puller, then the two sharers (Nix's own commands not included). */
  cpu: number[]
}

const common = { env: NIX_ENV, extraArgs: ['--nix-cache', 'off'] }

/** Two nodes that share the closure from the system store (each from its own blob store). */
async function startSharers (work: string, root: string, nodes: ClusterNode[]): Promise<ClusterNode[]> {
  const a = await startNode({ ...common, dataDir: join(work, 'a') })
  nodes.push(a)
  const c = await startNode({ ...common, dataDir: join(work, 'c'), bootstrap: [a.address] })
  nodes.push(c)
  for (const sharer of [a, c]) {
    const shared = await sharer.cli(['nix', 'share', root])
    if (shared.status !== 0) throw new Error(`share failed: ${shared.stderr}`)
  }
  return [a, c]
}

/** A fresh node pulls the closure into an empty chroot store. */
async function emergencePull (work: string, sharers: ClusterNode[], root: string, paths: number, round: number): Promise<EmergenceRun> {
  const [a, c] = sharers as [ClusterNode, ClusterNode]
  const store = join(work, `b-nix-${round}`)
  const env = profile !== undefined ? { ...common.env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` } : common.env
  const b = await startNode({ ...common, env, dataDir: join(work, `b-${round}`), bootstrap: [a.address], extraArgs: [...common.extraArgs, '--nix-store', store] })
  try {
    await b.cli(['node', 'dial', c.address])
    // Sharing announces every NAR and record in the DHT; in a running cluster that is long done when a pull
    // starts, so the clock starts once the daemons are nearly idle.
    await settle([a, b, c])
    await flushDisks()
    const cpuBefore = await Promise.all([b, a, c].map(async n => await cpuSeconds(n.process.pid)))
    const started = performance.now()
    const pulled = await b.cli(['nix', 'pull', root], { json: true })
    const seconds = (performance.now() - started) / 1000
    const cpu = await Promise.all([b, a, c].map(async (n, i) => await cpuSeconds(n.process.pid) - (cpuBefore[i] ?? 0)))
    if (pulled.status !== 0) throw new Error(`pull failed: ${pulled.stderr}`)
    const result = JSON.parse(pulled.stdout) as { fromPeers: Record<string, number> }
    await verifyClosure(store, root, paths)
    return { seconds, fromPeers: result.fromPeers, cpu }
  } finally {
    await stopAll([b])
  }
}

const runs = Number(process.argv.find(a => a.startsWith('--runs='))?.slice('--runs='.length) ?? 1)
const profile = process.argv.find(a => a.startsWith('--profile='))?.slice('--profile='.length)
const [n = 100, kib = 2048] = process.argv.slice(2).filter(a => !a.startsWith('--')).map(Number)
const work = await mkdtemp(join(tmpdir(), 'emergence-bench-nix-'))
const nodes: ClusterNode[] = []
let server: ChildProcess | undefined
try {
  process.stderr.write(`building a chain of ${n} paths of ${kib} KiB...\n`)
  const closure = await buildChain(work, n, kib)
  const mb = closure.narBytes / 1e6
  process.stderr.write(`closure: ${closure.paths} paths, ${mb.toFixed(1)} MB of NARs\n`)
  const cache = join(work, 'http-cache')
  await writeHttpCache(cache, closure.root)
  const port = await freePort()
  server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { cwd: cache, stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/nix-cache-info`)
  const sharers = await startSharers(work, closure.root, nodes)
  const cliStart = performance.now()
  await runToEnd(EMERGENCE_BIN, ['--version'])
  const cliStartSeconds = (performance.now() - cliStart) / 1000
  console.log(`closure: ${closure.paths} paths, ${mb.toFixed(1)} MB of NARs; CLI start ${cliStartSeconds.toFixed(2)} s (included below)\n`)
  console.log('| round | nix copy --from HTTP s | emergence nix pull s | ratio | puller CPU s | sharers CPU s | load |')
  console.log('|---|---|---|---|---|---|---|')
  const ours: number[] = []
  const theirs: number[] = []
  for (let round = 1; round <= runs; round++) {
    const emergence = await emergencePull(work, sharers, closure.root, closure.paths, round)
    const baseline = await nixCopyOnce(work, url, closure.root, closure.paths, round)
    ours.push(emergence.seconds)
    theirs.push(baseline)
    const [puller = 0, ...rest] = emergence.cpu
    console.log(`| ${round} | ${baseline.toFixed(2)} | ${emergence.seconds.toFixed(2)} | ${(emergence.seconds / baseline).toFixed(2)}x | ${puller.toFixed(2)} | ${rest.map(c => c.toFixed(2)).join(' / ')} | ${loadavg()[0]?.toFixed(1)} |`)
    process.stderr.write(`round ${round}: bytes by peer ${Object.entries(emergence.fromPeers).map(([p, b]) => `${p.slice(-8)} ${(b / 1e6).toFixed(1)} MB`).join(', ')}\n`)
  }
  console.log(`| median | ${median(theirs).toFixed(2)} | ${median(ours).toFixed(2)} | ${(median(ours) / median(theirs)).toFixed(2)}x | | | |`)
} finally {
  server?.kill('SIGTERM')
  await stopAll(nodes)
  await rm(work, { recursive: true, force: true })
}
