/**
 * from-nix benchmark: a 100-path Nix closure (built here with builtins.derivation, no nixpkgs) made into an image
 * by `emergence image from-nix` (one layer per store path) and by the single-tar way (`tar` of the closure, then
 * `skopeo copy tarball:... oci:...`), in the same run: wall time and bytes stored. Then a second closure sharing 90
 * of the 100 paths: the bytes a node holding the first image lacks for the second (the blobs a pull moves).
 *
 *   node scripts/bench/from-nix.ts [random-KiB-per-path=1024] [runs=3]
 *
 * Needs root (nix-build on the single-user store), nix, tar and skopeo. Prints a markdown table.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const REPO = new URL('../..', import.meta.url).pathname
const CLI = join(REPO, 'bin', 'emergence')

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

/** Layer digests and sizes of a tagged image in an OCI layout, read from its files. */
async function layers (layout: string, ref: string): Promise<Map<string, number>> {
  const raw = tool('skopeo', ['inspect', '--raw', `oci:${layout}:${ref}`])
  const manifest = JSON.parse(raw) as { layers: Array<{ digest: string, size: number }> }
  return new Map(manifest.layers.map(l => [l.digest, l.size]))
}

function missingBytes (have: Map<string, number>, want: Map<string, number>): number {
  let total = 0
  for (const [digest, size] of want) if (!have.has(digest)) total += size
  return total
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
  // The second image: what a node holding the first lacks.
  const data = join(work, `data-${runs - 1}`)
  const second = timed(CLI, ['--data-dir', data, 'image', 'from-nix', top.b, '--entrypoint', `${top.b}/refs`, '-t', 'bench/b:1'])
  const export1 = join(work, 'export')
  tool(CLI, ['--data-dir', data, 'image', 'export', 'bench/a:1', export1, '--as', 'a'])
  tool(CLI, ['--data-dir', data, 'image', 'export', 'bench/b:1', export1, '--as', 'b'])
  const fromNixMissing = missingBytes(await layers(export1, 'a'), await layers(export1, 'b'))
  const singleLayout = join(work, `single-${runs - 1}`)
  const tarB = join(work, 'closure-b.tar')
  tool('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', tarB, '-C', '/', ...closure.b.map(p => p.slice(1))])
  tool('skopeo', ['copy', '-q', `tarball:${tarB}`, `oci:${singleLayout}:b`])
  const singleMissing = missingBytes(await layers(singleLayout, 'a'), await layers(singleLayout, 'b'))
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
  const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)
  console.log(`closure: ${closure.a.length} paths, ${mib(narBytes)} MiB of NARs; second closure shares ${shared} paths; ${runs} runs\n`)
  console.log('| image of the closure | median wall s | median CPU s | runs wall s | stored MiB |\n|---|---|---|---|---|')
  for (const [what, times, bytes] of rows) {
    console.log(`| ${what} | ${median(times.map(t => t.wall)).toFixed(2)} | ${median(times.map(t => t.cpu)).toFixed(2)} | ${times.map(t => t.wall.toFixed(2)).join(', ')} | ${mib(bytes)} |`)
  }
  console.log(`\nsecond image (from-nix, first one held): ${second.wall.toFixed(2)} s wall, ${second.cpu.toFixed(2)} s CPU`)
  console.log('\n| second image, node holds the first | MiB to move |\n|---|---|')
  console.log(`| from-nix layers | ${mib(fromNixMissing)} |`)
  console.log(`| single-tar layer | ${mib(singleMissing)} |`)
} finally {
  await rm(work, { recursive: true, force: true })
}
