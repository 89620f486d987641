/**
 * Unpacking without privileges (no lchown, device nodes and fifos skipped with a warning) and aborting an
 * unpack: both on an in-memory-built image, with no external tools.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { loadImage } from '../../../src/runner/image.ts'
import { unpackRootfs } from '../../../src/runner/unpack.ts'
import { InvalidLayerError } from '../../../src/runner/errors.ts'
import type { Logger } from '../../../src/util/logger.ts'
import { buildTar, ingestLayout, writeLayout } from '../../integration/runner/helpers/images.ts'

describe('unpack options', () => {
  let dir: string
  let store: Store

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-options-'))
    store = await Store.open(join(dir, 'store'))
    const layer = await buildTar([
      { header: { name: 'owned', type: 'file', uid: 4321, gid: 8765, mode: 0o640 }, content: 'x' },
      { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 } },
      { header: { name: 'fifo', type: 'fifo' } },
      { header: { name: 'after', type: 'file' }, content: 'still unpacked' }
    ])
    await writeLayout(join(dir, 'layout'), 't', { layers: [layer] })
    await ingestLayout(join(dir, 'layout'), 't', store, 'options/image:1')
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('skips lchown and device nodes when unprivileged, with one warning per skipped node', async () => {
    const warnings: string[] = []
    const logger: Logger = { error () {}, warn (m) { warnings.push(m) }, info () {}, debug () {} }
    const target = join(dir, 'unprivileged')
    await unpackRootfs(store, await loadImage(store, 'options/image:1'), target, { privileged: false, logger })
    assert.deepEqual((await readdir(target)).sort(), ['after', 'dev', 'owned'])
    const owned = await lstat(join(target, 'owned'))
    assert.equal(owned.uid, process.getuid?.())
    assert.equal(owned.mode & 0o7777, 0o640)
    assert.equal(warnings.length, 2)
    assert.match(warnings[0] ?? '', /character-device dev\/null/)
  })

  it('stops when aborted, before or during the unpack, and leaves nothing', async () => {
    const image = await loadImage(store, 'options/image:1')
    const parent = join(dir, 'aborted')
    await assert.rejects(unpackRootfs(store, image, join(parent, 'rootfs'), { signal: AbortSignal.abort() }), { name: 'AbortError' })
    for (const worker of [true, false]) {
      const controller = new AbortController()
      const unpacking = unpackRootfs(store, image, join(parent, 'rootfs'), { signal: controller.signal, worker })
      setImmediate(() => { controller.abort() })
      await assert.rejects(unpacking, { name: 'AbortError' })
      assert.deepEqual(await readdir(parent), [])
    }
  })

  it('rebuilds the error classes of the worker on the caller side', async () => {
    const layout = join(dir, 'bad-layout')
    await writeLayout(layout, 't', { layers: [await buildTar([{ header: { name: 'x', type: 'link', linkname: 'missing' } }])] })
    await ingestLayout(layout, 't', store, 'options/bad:1')
    const image = await loadImage(store, 'options/bad:1')
    for (const worker of [true, false]) {
      const err = await unpackRootfs(store, image, join(dir, `bad-${String(worker)}`), { worker }).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof InvalidLayerError, String(err))
      assert.equal(err.entry, 'x')
      assert.equal(err.code, 'LAYER_INVALID')
      assert.match(err.message, /hard link target "missing" does not exist/)
      assert.equal((err.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOENT')
    }
  })
})
