/**
 * Nix closure benchmark: a chain of N paths of SIZE_KiB random data each (as anchors/nix-copy.sh builds it),
 * shared by two nodes (from the system store) and pulled by a third with `emergence nix pull` into an empty second Nix store, side by
 * side in the same run with `nix copy --from` a plain HTTP binary cache of the same closure (`nix copy --to
 * file://DIR?compression=none`, served by `python3 -m http.server` on loopback) into another empty store.
 * Prints a table with the ratio. Run as root (single-user Nix):
 *
 *   node scripts/bench/nix-closure.ts [N=100] [SIZE_KiB=2048]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startNode, stopAll, runToEnd, EMERGENCE_BIN, type ClusterNode } from '../lib/cluster.ts'
import { cpuSeconds, settle } from '../lib/idle.ts'
import { freePort } from '../lib/ports.ts'

const run = promisify(execFile)
const NIX_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NIX_REMOTE'))
const NIX = ['--extra-experimental-features', 'nix-command']
const NO_SUBSTITUTES = ['--option', 'substituters', '']

async function sh (cmd: string, args: string[], env: NodeJS.ProcessEnv = NIX_ENV): Promise<string> {
  return (await run(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout
}

/** The closure of anchors/nix-copy.sh: p1 <- p2 <- ... <- pN, each SIZE_KiB of /dev/urandom. */
async function buildChain (work: string, n: number, kib: number): Promise<{ root: string, paths: number, narBytes: number }> {
  const file = join(work, 'chain.nix')
  await writeFile(file, [
    'let mk = i: prev: builtins.derivation { name = "emergence-bench-${toString i}"; system = builtins.currentSystem; builder = "/bin/sh";',
    `  args = ["-c" "/bin/mkdir $out; /usr/bin/head -c ${kib * 1024} /dev/urandom > $out/data; echo \${prev} > $out/ref"]; };`,
    `  go = i: if i == 0 then "none" else mk i (go (i - 1)); in go ${n}`
  ].join('\n'))
  const root = (await sh('nix-build', [file, '--option', 'sandbox', 'false', ...NO_SUBSTITUTES, '--out-link', join(work, 'result')])).trim()
  const infos = JSON.parse(await sh('nix', [...NIX, 'path-info', '--json', '--recursive', ...NO_SUBSTITUTES, root])) as Array<{ narSize: number }>
  return { root, paths: infos.length, narBytes: infos.reduce((sum, i) => sum + i.narSize, 0) }
}

/**
 * Writes out what earlier steps left in the page cache, so that neither side of the comparison pays for the
 * other's writes (nor for the sharing) while its clock runs.
 */
async function flushDisks (): Promise<void> {
  await run('sync', [])
}

async function waitForHttp (url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then(r => r.ok, () => false)) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${url} did not come up`)
}

async function verify (store: string, root: string, paths: number): Promise<void> {
  const listed = (await sh('nix-store', ['--store', store, '--query', '--requisites', root])).trim().split('\n')
  if (listed.length !== paths) throw new Error(`${store} holds ${listed.length} paths of the closure, not ${paths}`)
  await sh('nix-store', ['--store', store, '--verify-path', ...listed])
}

/** `nix copy --from` a plain HTTP cache (uncompressed NARs) into an empty store: seconds. */
async function nixCopyBaseline (work: string, root: string, paths: number): Promise<number> {
  const cache = join(work, 'http-cache')
  await sh('nix', [...NIX, 'copy', '--to', `file://${cache}?compression=none`, root])
  const port = await freePort()
  const server: ChildProcess = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { cwd: cache, stdio: 'ignore' })
  try {
    await waitForHttp(`http://127.0.0.1:${port}/nix-cache-info`)
    const target = join(work, 'nix-copy-store')
    await flushDisks()
    const started = performance.now()
    await sh('nix', [...NIX, 'copy', '--from', `http://127.0.0.1:${port}`, '--to', target, '--option', 'require-sigs', 'false', ...NO_SUBSTITUTES,
      '--option', 'narinfo-cache-negative-ttl', '0', '--option', 'narinfo-cache-positive-ttl', '0', root], { ...NIX_ENV, XDG_CACHE_HOME: join(work, 'xdg') })
    const seconds = (performance.now() - started) / 1000
    await verify(target, root, paths)
    return seconds
  } finally {
    server.kill('SIGTERM')
  }
}

interface EmergenceRun {
  seconds: number
  pullSeconds: number
  cliStartSeconds: number
  fromPeers: Record<string, number>
  /** CPU seconds of the daemons during the pull: the puller, then the two sharers (nix-store --import not included). */
  cpu: number[]
}

/** Two nodes share the closure from the system store; a third pulls it into an empty chroot store. */
async function emergencePull (work: string, root: string, paths: number): Promise<EmergenceRun> {
  const nodes: ClusterNode[] = []
  try {
    const common = { env: NIX_ENV, extraArgs: ['--nix-cache', 'off'] }
    const a = await startNode({ ...common, dataDir: join(work, 'a') })
    nodes.push(a)
    // A and C share from the system store (each from its own blob store); B pulls into an empty chroot store.
    const [b, c] = await Promise.all([
      startNode({ ...common, dataDir: join(work, 'b'), bootstrap: [a.address], extraArgs: [...common.extraArgs, '--nix-store', join(work, 'b-nix')] }),
      startNode({ ...common, dataDir: join(work, 'c'), bootstrap: [a.address] })
    ])
    nodes.push(b, c)
    await b.cli(['node', 'dial', c.address])
    for (const sharer of [a, c]) {
      const shared = await sharer.cli(['nix', 'share', root])
      if (shared.status !== 0) throw new Error(`share failed: ${shared.stderr}`)
    }
    // Sharing announces every NAR and record in the DHT; in a running cluster that is long done when a pull
    // starts, so the clock starts once the daemons are nearly idle.
    await settle(nodes)
    await flushDisks()
    const cliStart = performance.now()
    await runToEnd(EMERGENCE_BIN, ['--version'])
    const cliStartSeconds = (performance.now() - cliStart) / 1000
    const cpuBefore = await Promise.all([b, a, c].map(async n => await cpuSeconds(n.process.pid)))
    const started = performance.now()
    const pulled = await b.cli(['nix', 'pull', root], { json: true })
    const seconds = (performance.now() - started) / 1000
    const cpu = await Promise.all([b, a, c].map(async (n, i) => await cpuSeconds(n.process.pid) - (cpuBefore[i] ?? 0)))
    if (pulled.status !== 0) throw new Error(`pull failed: ${pulled.stderr}`)
    const result = JSON.parse(pulled.stdout) as { fromPeers: Record<string, number> }
    await verify(join(work, 'b-nix'), root, paths)
    return { seconds, pullSeconds: seconds - cliStartSeconds, cliStartSeconds, fromPeers: result.fromPeers, cpu }
  } finally {
    await stopAll(nodes)
  }
}

const [n = 100, kib = 2048] = process.argv.slice(2).map(Number)
const work = await mkdtemp(join(tmpdir(), 'emergence-bench-nix-'))
try {
  process.stderr.write(`building a chain of ${n} paths of ${kib} KiB...\n`)
  const closure = await buildChain(work, n, kib)
  const mb = closure.narBytes / 1e6
  process.stderr.write(`closure: ${closure.paths} paths, ${mb.toFixed(1)} MB of NARs\n`)
  const emergence = await emergencePull(work, closure.root, closure.paths)
  const baseline = await nixCopyBaseline(work, closure.root, closure.paths)
  const rows: Array<[string, number]> = [
    ['nix copy --from http (python http.server, no compression)', baseline],
    ['emergence nix pull (2 sharing peers), CLI wall time', emergence.seconds],
    [`emergence nix pull, minus CLI start (${emergence.cliStartSeconds.toFixed(2)} s)`, emergence.pullSeconds]
  ]
  const width = Math.max(...rows.map(r => r[0].length))
  console.log(`closure: ${closure.paths} paths, ${mb.toFixed(1)} MB of NARs`)
  console.log(`${'method'.padEnd(width)}  seconds    MB/s  ratio to nix copy`)
  for (const [name, seconds] of rows) {
    console.log(`${name.padEnd(width)}  ${seconds.toFixed(2).padStart(7)}  ${(mb / seconds).toFixed(0).padStart(6)}  ${(seconds / baseline).toFixed(2)}x`)
  }
  console.log(`bytes by peer: ${Object.entries(emergence.fromPeers).map(([p, b]) => `${p.slice(-8)} ${(b / 1e6).toFixed(1)} MB`).join(', ')}`)
  const [puller = 0, ...sharers] = emergence.cpu
  console.log(`daemon CPU during the pull: puller ${puller.toFixed(2)} s, sharers ${sharers.map(c => c.toFixed(2)).join(' s and ')} s`)
} finally {
  await rm(work, { recursive: true, force: true })
}
