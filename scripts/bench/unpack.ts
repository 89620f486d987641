/**
 * Unpack benchmark: a multi-layer image built with umoci (random and compressible files of many sizes, plus a
 * layer of changes and whiteouts) is unpacked by `umoci unpack` and by our unpacker, in the same run, from the
 * same blobs. Both are timed with /usr/bin/time (wall seconds, peak RSS) as separate processes. The trees are
 * compared (paths, types, sizes, modes) before the numbers are printed.
 *
 *   node scripts/bench/unpack.ts [size-MiB=500]
 *
 * The full size takes minutes to build (umoci repack gzips everything); use e.g. 50 for a quick run.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/store/store.ts'
import { loadImage } from '../../src/runner/image.ts'
import { unpackRootfs } from '../../src/runner/unpack.ts'
import { ingestLayout } from '../../test/integration/runner/helpers/images.ts'

const MiB = 1024 * 1024
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'layer', 'store', 'peer', 'blob', 'digest', 'manifest', 'index', 'config']

function tool (cmd: string, args: string[]): string {
  const out = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MiB })
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${out.stderr}`)
  return out.stdout
}

/** Text that gzip shrinks about 4x: lines of words with numbers. */
function compressible (bytes: number): Buffer {
  const lines: string[] = []
  let size = 0
  while (size < bytes) {
    const line = `${WORDS[Math.floor(Math.random() * WORDS.length)] ?? ''} ${Math.floor(Math.random() * 1e6)} ${WORDS[size % WORDS.length] ?? ''}\n`
    lines.push(line)
    size += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

/** Fills `root/<prefix>` with about `bytes`: 40% random files of 1-8 MiB, 40% text of 16 KiB-1 MiB, 20% small files. */
async function fill (root: string, prefix: string, bytes: number): Promise<void> {
  const shares: Array<[string, number, () => number, (n: number) => Buffer]> = [
    ['random', 0.4, () => MiB * (1 + Math.floor(Math.random() * 8)), n => randomBytes(n)],
    ['text', 0.4, () => 16 * 1024 + Math.floor(Math.random() * MiB), compressible],
    ['small', 0.2, () => 2048 + Math.floor(Math.random() * 14 * 1024), n => Math.random() < 0.5 ? randomBytes(n) : compressible(n)]
  ]
  for (const [kind, share, sizeOf, make] of shares) {
    let left = bytes * share
    for (let i = 0; left > 0; i++) {
      const dir = join(root, prefix, kind, `d${Math.floor(i / 100)}`)
      if (i % 100 === 0) await mkdir(dir, { recursive: true })
      const size = Math.min(sizeOf(), Math.max(1, Math.ceil(left)))
      await writeFile(join(dir, `f${i}`), make(size))
      if (i % 50 === 0) await symlink(`f${i}`, join(dir, `link${i}`))
      left -= size
    }
  }
}

/** Layer 3's changes: deletes some of layer 1 (whiteouts), rewrites a directory, adds files. */
async function change (root: string, bytes: number): Promise<void> {
  await rm(join(root, 'l1', 'small', 'd0'), { recursive: true, force: true })
  for (const name of await readdir(join(root, 'l1', 'text', 'd0'))) if (name.endsWith('0')) await unlink(join(root, 'l1', 'text', 'd0', name))
  await rm(join(root, 'l2', 'random'), { recursive: true, force: true })
  await fill(root, 'l2/random', bytes)
}

async function buildImage (dir: string, sizeMiB: number): Promise<string> {
  const layout = join(dir, 'layout')
  const bundle = join(dir, 'build')
  tool('umoci', ['init', '--layout', layout])
  tool('umoci', ['new', '--image', `${layout}:t`])
  const perLayer = sizeMiB * MiB / 3
  const steps: Array<(rootfs: string) => Promise<void>> = [
    async r => { await fill(r, 'l1', perLayer) },
    async r => { await fill(r, 'l2', perLayer) },
    async r => { await change(r, perLayer) }
  ]
  for (const step of steps) {
    tool('umoci', ['unpack', '--image', `${layout}:t`, bundle])
    await step(join(bundle, 'rootfs'))
    tool('umoci', ['repack', '--image', `${layout}:t`, bundle])
    await rm(bundle, { recursive: true, force: true })
  }
  return layout
}

interface Summary { entries: number, bytes: number }

/** Paths with type, size and mode, and the totals; enough to tell two unpacks apart without hashing. */
async function listTree (root: string, rel = '', out = new Map<string, string>()): Promise<Map<string, string>> {
  const info = await lstat(join(root, rel))
  out.set(rel, `${info.isDirectory() ? 'd' : info.isSymbolicLink() ? 'l' : 'f'} ${info.isFile() ? info.size : 0} ${(info.mode & 0o7777).toString(8)} ${info.uid}:${info.gid}`)
  if (info.isDirectory()) for (const name of await readdir(join(root, rel))) await listTree(root, join(rel, name), out)
  return out
}

function summarise (tree: Map<string, string>): Summary {
  let bytes = 0
  for (const line of tree.values()) bytes += Number(line.split(' ')[1])
  return { entries: tree.size, bytes }
}

interface Timing { seconds: number, cpu: number, rssMiB: number, unpackSeconds?: number }

/** Runs a command under /usr/bin/time: wall and CPU seconds, peak RSS (MiB), and the child's own UNPACK line. */
function timed (cmd: string, args: string[]): Timing {
  spawnSync('sync')
  const out = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %U %S %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 * MiB })
  if (out.status !== 0) throw new Error(`${cmd} failed: ${out.stderr}`)
  const line = out.stderr.split('\n').find(l => l.startsWith('BENCH ')) ?? ''
  const [, seconds, user, system, rssKiB] = line.split(' ').map(Number)
  const unpack = out.stdout.split('\n').find(l => l.startsWith('UNPACK '))
  return {
    seconds: seconds ?? NaN,
    cpu: (user ?? NaN) + (system ?? NaN),
    rssMiB: (rssKiB ?? NaN) / 1024,
    ...(unpack !== undefined ? { unpackSeconds: Number(unpack.split(' ')[1]) } : {})
  }
}

/** Child mode: one unpack, printing the seconds spent in unpackRootfs (without Node's start-up). */
async function child (storeDir: string, ref: string, target: string): Promise<void> {
  const store = await Store.open(storeDir)
  const image = await loadImage(store, ref)
  const start = process.hrtime.bigint()
  await unpackRootfs(store, image, target)
  process.stdout.write(`UNPACK ${Number(process.hrtime.bigint() - start) / 1e9}\n`)
}

async function main (): Promise<void> {
  const [, , first, ...rest] = process.argv
  if (first === '--child') return await child(rest[0] ?? '', rest[1] ?? '', rest[2] ?? '')
  if (first === '--baseline') return
  const sizeMiB = Number(first ?? 500)
  const dir = await mkdtemp(join(tmpdir(), 'emergence-bench-unpack-'))
  try {
    const built = Date.now()
    const layout = await buildImage(dir, sizeMiB)
    const store = await Store.open(join(dir, 'store'))
    await ingestLayout(layout, 't', store, 'bench/unpack:1')
    const image = await loadImage(store, 'bench/unpack:1')
    const compressed = image.manifest.layers.reduce((sum, l) => sum + l.size, 0)
    console.log(`built in ${((Date.now() - built) / 1000).toFixed(0)} s: ${image.manifest.layers.length} layers, ${(compressed / MiB).toFixed(0)} MiB of tar+gzip`)

    const umoci = timed('umoci', ['unpack', '--image', `${layout}:t`, join(dir, 'umoci')])
    const ours = timed(process.execPath, [import.meta.filename, '--child', store.root, 'bench/unpack:1', join(dir, 'ours', 'rootfs')])
    const expected = await listTree(join(dir, 'umoci', 'rootfs'))
    const actual = await listTree(join(dir, 'ours', 'rootfs'))
    const same = expected.size === actual.size && [...expected].every(([path, line]) => actual.get(path) === line)
    const { entries, bytes } = summarise(actual)
    console.log(`rootfs: ${entries} entries, ${(bytes / MiB).toFixed(0)} MiB in files; trees identical: ${same ? 'yes' : 'NO'}\n`)
    console.log('| unpacker | wall s (process) | CPU s | MiB/s (files) | time vs umoci | peak RSS MiB |')
    console.log('|---|---|---|---|---|---|')
    const rows: Array<[string, number, Timing]> = [['umoci unpack', umoci.seconds, umoci], ['emergence (node process)', ours.seconds, ours]]
    if (ours.unpackSeconds !== undefined) rows.push(['emergence (unpackRootfs only)', ours.unpackSeconds, ours])
    for (const [name, seconds, r] of rows) {
      const cpu = name.endsWith('only)') ? '-' : r.cpu.toFixed(2)
      console.log(`| ${name} | ${seconds.toFixed(2)} | ${cpu} | ${(bytes / MiB / seconds).toFixed(0)} | ${(seconds / umoci.seconds).toFixed(2)}x | ${r.rssMiB.toFixed(0)} |`)
    }
    const baseline = timed(process.execPath, [import.meta.filename, '--baseline'])
    console.log(`\npeak RSS of a node process that only loads these modules: ${baseline.rssMiB.toFixed(0)} MiB`)
    console.log('umoci unpack also writes an mtree manifest of the rootfs (it hashes every file once more).')
    if (!same) process.exitCode = 1
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
