/**
 * Container start benchmark: the first and the second `emergence run --rm` of the same ~200 MiB image (a
 * busybox layer and a layer of random files), with the rootfs copied per container (`--rootfs copy`, the old
 * way) and as an overlay on the layer cache (`--rootfs overlay`). Each round starts from an empty layer cache.
 * Bytes: what a run leaves in the runner's directory for the layer cache (after the first run: the unpacked
 * layers), and what one kept container takes on the disk of the data dir (`du -sbx` of its bundle: the whole
 * rootfs for a copy, the empty upper directory for an overlay).
 *
 *   node scripts/bench/run-start.ts [size-MiB=200] [rounds=3]
 *
 * Needs root, runc and overlayfs; the CLI must be built (`npm run build`).
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { busyboxLayer, buildTar, writeLayout, type TarEntry } from '../../test/integration/runner/helpers/images.ts'

const MiB = 1024 * 1024
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'emergence')

function cli (dataDir: string, args: string[]): number {
  const start = process.hrtime.bigint()
  const out = spawnSync(BIN, ['--data-dir', dataDir, ...args], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`emergence ${args.join(' ')} failed: ${out.stderr}`)
  return Number(process.hrtime.bigint() - start) / 1e9
}

function du (path: string): number {
  const out = spawnSync('du', ['-sbx', path], { encoding: 'utf8' })
  return out.status === 0 ? Number(out.stdout.split('\t')[0]) : 0
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

/** Tag `t`: busybox and `sizeMiB` files of 1 MiB of random bytes; tag `small`: busybox alone (the floor). */
async function buildImage (work: string, sizeMiB: number): Promise<string> {
  const files: TarEntry[] = [{ header: { name: 'data/', type: 'directory' } }]
  for (let i = 0; i < sizeMiB; i++) files.push({ header: { name: `data/f${i}`, type: 'file' }, content: randomBytes(MiB) })
  const layout = join(work, 'layout')
  await writeLayout(layout, 't', { layers: [await busyboxLayer(), await buildTar(files)], config: { Cmd: ['true'] } })
  const small = join(work, 'small')
  await writeLayout(small, 't', { layers: [await busyboxLayer()], config: { Cmd: ['true'] } })
  return layout
}

const sizeMiB = Number(process.argv[2] ?? 200)
const rounds = Number(process.argv[3] ?? 3)
const work = await mkdtemp(join(tmpdir(), 'bench-run-start-'))
try {
  const layout = await buildImage(work, sizeMiB)
  const modes = ['copy', 'overlay'] as const
  const times = { copy: { first: [] as number[], second: [] as number[] }, overlay: { first: [] as number[], second: [] as number[] } }
  const cached = { copy: 0, overlay: 0 }
  const dataDir = (mode: string): string => join(work, `data-${mode}`)
  for (const mode of modes) cli(dataDir(mode), ['image', 'import', `${layout}:t`, '--name', 'bench/big:1'])
  cli(dataDir('overlay'), ['image', 'import', `${join(work, 'small')}:t`, '--name', 'bench/small:1'])
  cli(dataDir('overlay'), ['run', '--rm', 'bench/small:1'])
  const floor: number[] = []
  // Rounds interleave the two ways, so a burst of load on this shared machine hits both alike.
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      await rm(join(dataDir(mode), 'runner', 'layers'), { recursive: true, force: true })
      times[mode].first.push(cli(dataDir(mode), ['run', '--rm', '--rootfs', mode, 'bench/big:1']))
      cached[mode] = du(join(dataDir(mode), 'runner', 'layers'))
      times[mode].second.push(cli(dataDir(mode), ['run', '--rm', '--rootfs', mode, 'bench/big:1']))
    }
    floor.push(cli(dataDir('overlay'), ['run', '--rm', 'bench/small:1']))
  }
  const rows: string[] = []
  for (const mode of modes) {
    cli(dataDir(mode), ['run', '--name', 'kept', '--rootfs', mode, 'bench/big:1'])
    const perContainer = du(join(dataDir(mode), 'runner', 'bundles', 'kept'))
    cli(dataDir(mode), ['rm', 'kept'])
    const { first, second } = times[mode]
    rows.push(`| ${mode} | ${median(first).toFixed(2)} | ${median(second).toFixed(2)} | ${(cached[mode] / MiB).toFixed(1)} | ${(perContainer / MiB).toFixed(1)} |`)
  }
  console.log(`image: ${sizeMiB} MiB of random files + busybox, ${rounds} rounds, medians`)
  console.log('| rootfs | first run --rm s | second run --rm s | layer cache after first run MiB | one kept container MiB |')
  console.log('|---|---|---|---|---|')
  for (const row of rows) console.log(row)
  console.log(`floor: a cached 1 MiB busybox image, run --rm (CLI, mount, runc, unmount): ${median(floor).toFixed(2)} s`)
} finally {
  await rm(work, { recursive: true, force: true })
}
