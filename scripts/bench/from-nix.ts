/**
 * from-nix benchmark: a 100-path Nix closure (built here with builtins.derivation, no nixpkgs) made into an image
 * by `emergence image from-nix` (one layer per store path) and by the single-tar way (`tar` of the closure, then
 * `skopeo copy tarball:... oci:...`), in the same run: wall time and bytes stored. Then a second closure sharing 90
 * of the 100 paths, made into an image both ways: two real nodes, each in a network namespace of its own (host 1
 * holds every image, host 2 pulls the first image, then the second), and the bytes the second pull moves: what
 * the pull reports fetching, and the bytes through host 2's interface (both directions, TCP and Noise included).
 *
 *   node scripts/bench/from-nix.ts [random-KiB-per-path=1024] [runs=3]
 *
 * Needs root (nix-build on the single-user store, network namespaces named embbh1/embbh2), nix, tar and skopeo.
 * Prints markdown tables.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, stopAll, type ClusterNode } from '../lib/cluster.ts'
import { netnsHosts } from '../lib/netns.ts'
import { settle } from '../lib/idle.ts'

const REPO = new URL('../..', import.meta.url).pathname
const CLI = join(REPO, 'bin', 'emergence')
const PFX = 'embb'

function tool (cmd: string, args: string[]): string {
  const out = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${out.stderr}`)
  return out.stdout
}

/** Wall and CPU (user + sys) seconds of one command, from /usr/bin/time. */
function timed (cmd: string, args: string[]): { wall: number, cpu: number } {
  const out = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${out.stderr}`)
  const [wall, user, sys] = (/TIME (\S+) (\S+) (\S+)/.exec(out.stderr) ?? []).slice(1).map(Number)
  return { wall: wall ?? NaN, cpu: (user ?? NaN) + (sys ?? NaN) }
}

function sum (a: { wall: number, cpu: number }, b: { wall: number, cpu: number }): { wall: number, cpu: number } {
  return { wall: a.wall + b.wall, cpu: a.cpu + b.cpu }
}

function closureNix (randomKiB: number): string {
  return `
let
  drv = name: script: builtins.derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ]; };
  dep = prefix: i: drv "bench-from-nix-\${prefix}\${toString i}" "/bin/mkdir $out && /usr/bin/head -c ${randomKiB * 1024} /dev/urandom > $out/random && /usr/bin/seq \${toString i} \${toString (i + 20000)} > $out/text";
  range = n: builtins.genList (i: i) n;
  shared = map (dep "s") (range 90);
  top = name: deps: drv name "/bin/mkdir $out && echo \${builtins.concatStringsSep " " (map toString deps)} > $out/refs";
in {
  a = top "bench-from-nix-a" (shared ++ map (dep "a") (range 9));
  b = top "bench-from-nix-b" (shared ++ map (dep "b") (range 9));
}`
}

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

/** The network-namespace hosts of netns-lib.sh, with this benchmark's prefix. */
const { sh: hosts, wrap } = netnsHosts(PFX)

/** Bytes through host `i`'s interface so far, received plus sent. */
function wireBytes (i: number): number {
  const read = (what: string): number => Number(tool('ip', ['netns', 'exec', `${PFX}h${i}`, 'cat', `/sys/class/net/eth0/statistics/${what}_bytes`]).trim())
  return read('rx') + read('tx')
}

interface Moved { fetched: number, wire: number }

/** Pulls `ref` on `node` (host `i`): what the pull reports fetching, and the bytes through the host's interface. */
async function pull (node: ClusterNode, i: number, ref: string): Promise<Moved> {
  const before = wireBytes(i)
  const result = await node.cli(['pull', ref], { json: true })
  if (result.status !== 0) throw new Error(`pull ${ref} failed: ${result.stderr}`)
  const fetched = (JSON.parse(result.stdout) as { fetchedBytes: number }).fetchedBytes
  return { fetched, wire: wireBytes(i) - before }
}

/**
 * Host 1 serves `holder` (every image); host 2 starts empty and pulls each pair's first image, then its second.
 * Returns what each second pull moved.
 */
async function secondPulls (holder: string, puller: string, pairs: Array<[string, string]>): Promise<Moved[]> {
  hosts('hosts_down; hosts_up 2 none')
  const nodes: ClusterNode[] = []
  try {
    const seed = await startNode({ dataDir: holder, listen: '/ip4/198.18.0.2/tcp/7701', wrap: wrap(1) })
    nodes.push(seed)
    nodes.push(await startNode({ dataDir: puller, listen: '/ip4/198.18.0.3/tcp/7701', wrap: wrap(2), bootstrap: [seed.address], trusted: [seed.peerId] }))
    await settle(nodes)
    const moved: Moved[] = []
    for (const [first, second] of pairs) {
      await pull(nodes[1] as ClusterNode, 2, first)
      moved.push(await pull(nodes[1] as ClusterNode, 2, second))
    }
    return moved
  } finally {
    await stopAll(nodes)
    hosts('hosts_down')
  }
}

const randomKiB = Number(process.argv[2] ?? 1024)
const runs = Number(process.argv[3] ?? 3)
const work = await mkdtemp(join(tmpdir(), 'bench-from-nix-'))
try {
  await writeFile(join(work, 'closures.nix'), closureNix(randomKiB))
  const nixBuild = (attr: string): string => tool('nix-build', [join(work, 'closures.nix'), '-A', attr, '-o', join(work, `result-${attr}`),
    '--option', 'substituters', '', '--option', 'sandbox', 'false']).trim()
  const top = { a: nixBuild('a'), b: nixBuild('b') }
  const closure = { a: tool('nix-store', ['-qR', top.a]).trim().split('\n'), b: tool('nix-store', ['-qR', top.b]).trim().split('\n') }
  const narBytes = closure.a.reduce((sum, p) => sum + Number(tool('nix-store', ['-q', '--size', p]).trim()), 0)
  const shared = closure.a.filter(p => closure.b.includes(p)).length
  const rows: Array<[string, Array<{ wall: number, cpu: number }>, number]> = []
  const emergence: Array<{ wall: number, cpu: number }> = []
  const zstd: Array<{ wall: number, cpu: number }> = []
  const single: Array<{ wall: number, cpu: number }> = []
  let emergenceBytes = 0
  let zstdBytes = 0
  let singleBytes = 0
  for (let run = 0; run < runs; run++) {
    const data = join(work, `data-${run}`)
    emergence.push(timed(CLI, ['--data-dir', data, 'image', 'from-nix', top.a, '--entrypoint', `${top.a}/refs`, '-t', 'bench/a:1']))
    emergenceBytes = await dirBytes(join(data, 'oci', 'blobs', 'sha256'))
    const zstdData = join(work, `zstd-${run}`)
    zstd.push(timed(CLI, ['--data-dir', zstdData, 'image', 'from-nix', top.a, '--entrypoint', `${top.a}/refs`, '--compression', 'zstd', '-t', 'bench/a:1']))
    zstdBytes = await dirBytes(join(zstdData, 'oci', 'blobs', 'sha256'))
    await rm(zstdData, { recursive: true })
    const tarFile = join(work, `closure-${run}.tar`)
    const layout = join(work, `single-${run}`)
    single.push(sum(timed('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', tarFile, '-C', '/', ...closure.a.map(p => p.slice(1))]),
      timed('skopeo', ['copy', '-q', `tarball:${tarFile}`, `oci:${layout}:a`])))
    singleBytes = await dirBytes(join(layout, 'blobs', 'sha256'))
    if (run < runs - 1) await rm(layout, { recursive: true })
    await rm(tarFile)
  }
  rows.push(['emergence image from-nix (one layer per path)', emergence, emergenceBytes])
  rows.push(['emergence image from-nix --compression zstd', zstd, zstdBytes])
  rows.push(['tar of the closure, then skopeo copy tarball: (one layer)', single, singleBytes])
  // The second image, both ways, in host 1's store; host 2 holds the first and pulls the second.
  const data = join(work, `data-${runs - 1}`)
  const second = timed(CLI, ['--data-dir', data, 'image', 'from-nix', top.b, '--entrypoint', `${top.b}/refs`, '-t', 'bench/b:1'])
  const singleLayout = join(work, `single-${runs - 1}`)
  const tarB = join(work, 'closure-b.tar')
  tool('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', tarB, '-C', '/', ...closure.b.map(p => p.slice(1))])
  tool('skopeo', ['copy', '-q', `tarball:${tarB}`, `oci:${singleLayout}:b`])
  for (const which of ['a', 'b']) tool(CLI, ['--data-dir', data, 'image', 'import', `${singleLayout}:${which}`, '--name', `bench/single-${which}:1`])
  const [fromNix, singleTar] = await secondPulls(data, join(work, 'puller'), [['bench/a:1', 'bench/b:1'], ['bench/single-a:1', 'bench/single-b:1']])
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
  const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)
  console.log(`closure: ${closure.a.length} paths, ${mib(narBytes)} MiB of NARs; second closure shares ${shared} paths; ${runs} runs\n`)
  console.log('| image of the closure | median wall s | median CPU s | runs wall s | stored MiB |\n|---|---|---|---|---|')
  for (const [what, times, bytes] of rows) {
    console.log(`| ${what} | ${median(times.map(t => t.wall)).toFixed(2)} | ${median(times.map(t => t.cpu)).toFixed(2)} | ${times.map(t => t.wall.toFixed(2)).join(', ')} | ${mib(bytes)} |`)
  }
  console.log(`\nsecond image (from-nix, first one held): ${second.wall.toFixed(2)} s wall, ${second.cpu.toFixed(2)} s CPU`)
  console.log('\n| second image pulled by a node holding the first | fetched MiB | MiB through the puller\'s interface |\n|---|---|---|')
  console.log(`| from-nix layers | ${mib(fromNix?.fetched ?? NaN)} | ${mib(fromNix?.wire ?? NaN)} |`)
  console.log(`| single-tar layer | ${mib(singleTar?.fetched ?? NaN)} | ${mib(singleTar?.wire ?? NaN)} |`)
  console.log(`| ratio single-tar / from-nix | ${((singleTar?.fetched ?? NaN) / (fromNix?.fetched ?? NaN)).toFixed(1)} | ${((singleTar?.wire ?? NaN) / (fromNix?.wire ?? NaN)).toFixed(1)} |`)
} finally {
  await rm(work, { recursive: true, force: true })
}
