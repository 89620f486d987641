/**
 * The unpacker's resource limits against hostile layers, on real files: a decompression bomb, two layers that
 * together pass the byte limit, nested directories past the depth limit, names and symlink targets past
 * PATH_MAX, and a small real filesystem (tmpfs) that has or gets too little free space. Every failure is a typed
 * error on a short line and leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Store } from '../../../src/store/store.ts'
import { loadImage } from '../../../src/runner/image.ts'
import { unpackRootfs, type UnpackOptions } from '../../../src/runner/unpack.ts'
import { DEFAULT_MAX_DEPTH, PATH_MAX } from '../../../src/runner/unpack-limits.ts'
import { describeError } from '../../../src/util/errors.ts'
import { buildTar, ingestLayout, writeLayout, type Compression, type TarEntry } from './helpers/images.ts'

const run = promisify(execFile)
const MiB = 1024 * 1024

const file = (name: string, bytes: number): TarEntry => ({ header: { name, type: 'file' }, content: Buffer.alloc(bytes) })
const nested = (levels: number, name = 'a'): TarEntry[] =>
  Array.from({ length: levels }, (_, i) => ({ header: { name: `${name}/`.repeat(i + 1), type: 'directory' as const } }))

describe('unpack limits', () => {
  let dir: string
  let store: Store
  let images = 0

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-limits-'))
    store = await Store.open(join(dir, 'store'))
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  /** Stores an image of `layers` and returns its ref. */
  async function image (layers: TarEntry[][], compression: Compression = 'gzip'): Promise<string> {
    const name = `limits/image-${images++}:t`
    const layout = join(dir, `layout-${images}`)
    await writeLayout(layout, 't', { layers: await Promise.all(layers.map(buildTar)), compression })
    await ingestLayout(layout, 't', store, name)
    return name
  }

  /** Unpacks `ref` under a fresh parent and returns the error; the parent must be left empty. */
  async function refused (ref: string, options: UnpackOptions, parent = join(dir, `target-${images}`)): Promise<Error> {
    await mkdir(parent, { recursive: true })
    const err = await unpackRootfs(store, await loadImage(store, ref), join(parent, 'rootfs'), options).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof Error, 'the unpack must fail')
    assert.deepEqual(await readdir(parent), [], 'nothing half-written is left')
    assert.ok(describeError(err).length < 500, `one short error line, not ${describeError(err).length} characters`)
    return err
  }

  it('refuses a small gzip layer that expands past maxUnpackedBytes (a decompression bomb)', async () => {
    const ref = await image([[file('zeros', 64 * MiB)]])
    const layer = (await loadImage(store, ref)).manifest.layers[0]
    assert.ok((layer?.size ?? Infinity) < MiB, 'the layer is small')
    const err = await refused(ref, { limits: { maxUnpackedBytes: 16 * MiB } })
    assert.equal(err.name, 'UnpackLimitError')
  })

  it('counts every layer of an image against one limit', async () => {
    const ref = await image([[file('one', 10 * MiB)], [file('two', 10 * MiB)]])
    const err = await refused(ref, { limits: { maxUnpackedBytes: 16 * MiB }, worker: false })
    assert.equal(err.name, 'UnpackLimitError')
    await unpackRootfs(store, await loadImage(store, ref), join(dir, 'fits', 'rootfs'), { limits: { maxUnpackedBytes: 24 * MiB } })
  })

  it('refuses nested directories past the depth limit before creating them', async () => {
    // 300 levels of one-letter names: 600 bytes, far below PATH_MAX, so only the depth limit stops it.
    const ref = await image([nested(DEFAULT_MAX_DEPTH + 44)])
    const err = await refused(ref, {})
    assert.equal(err.name, 'EntryPathError')
    assert.match(err.message, /directories deep/)
  })

  it('refuses a path that is too deep only once a symlink in it is followed', async () => {
    // `s` points 200 levels down; `s` + 100 more levels is a 101-level name but a 300-level path on disk.
    const deep = 'd/'.repeat(200)
    const ref = await image([[...nested(200, 'd'), { header: { name: 's', type: 'symlink', linkname: deep } }, file(`s/${'a/'.repeat(99)}x`, 1)]])
    const err = await refused(ref, {})
    assert.equal(err.name, 'EntryPathError')
    assert.match(err.message, /directories deep/)
  })

  it('refuses 2,499 nested directories at once, on one short line', async () => {
    const ref = await image([nested(2499)])
    const err = await refused(ref, {})
    assert.equal(err.name, 'EntryPathError')
    assert.match(err.message, /257 directories deep/, 'refused at the first entry past the limit')
  })

  it('refuses a name, a symlink target and a hard link target past PATH_MAX with a typed error, not ENAMETOOLONG', async () => {
    // 20 components of 250 bytes: few levels, but more than PATH_MAX bytes.
    const long = Array.from({ length: 20 }, (_, i) => String(i % 10).repeat(250)).join('/')
    assert.ok(Buffer.byteLength(long) > PATH_MAX)
    const name = await refused(await image([[file(long, 1)]], 'none'), {})
    assert.equal(name.name, 'EntryPathError')
    assert.match(name.message, /PATH_MAX/)
    const target = await refused(await image([[{ header: { name: 'link', type: 'symlink', linkname: 'x/'.repeat(2500) } }]], 'none'), {})
    assert.equal(target.name, 'EntryPathError')
    assert.match(target.message, /symlink target/)
    const hardLink = await refused(await image([[{ header: { name: 'hard', type: 'link', linkname: long } }]], 'none'), {})
    assert.equal(hardLink.name, 'EntryPathError')
  })

  describe('on a 64 MiB tmpfs', () => {
    let mount: string

    before(async () => {
      mount = join(dir, 'tmpfs')
      await mkdir(mount)
      await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount])
    })
    after(async () => { await run('umount', [mount]) })

    const free = async (): Promise<number> => {
      const stats = await statfs(mount)
      return stats.bavail * stats.bsize
    }

    it('refuses to start when the free space is already below the reserve', async () => {
      const ref = await image([[file('small', 1024)]])
      const err = await refused(ref, { limits: { minFreeBytes: 128 * MiB } }, join(mount, 'before'))
      assert.equal(err.name, 'InsufficientSpaceError')
    })

    it('stops writing once the free space falls below the reserve, and frees what it wrote', async () => {
      const empty = await free()
      // 40 MiB fits on the 64 MiB filesystem, but not above a 32 MiB reserve.
      const ref = await image([[file('big', 40 * MiB)]])
      const err = await refused(ref, { limits: { minFreeBytes: 32 * MiB } }, join(mount, 'while'))
      assert.equal(err.name, 'InsufficientSpaceError')
      assert.equal(await free(), empty, 'the partial rootfs was removed')
    })

    it('reports a full disk as InsufficientSpaceError (ENOSPC) and frees what it wrote', async () => {
      const empty = await free()
      const ref = await image([[file('huge', 80 * MiB)]])
      const err = await refused(ref, { limits: { minFreeBytes: 0 } }, join(mount, 'full'))
      assert.equal(err.name, 'InsufficientSpaceError')
      assert.equal((err.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOSPC')
      assert.equal(await free(), empty, 'the partial rootfs was removed')
    })
  })
})
