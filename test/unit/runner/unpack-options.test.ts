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

  it('stops when aborted and leaves nothing', async () => {
    const controller = new AbortController()
    controller.abort()
    const parent = join(dir, 'aborted')
    await assert.rejects(unpackRootfs(store, await loadImage(store, 'options/image:1'), join(parent, 'rootfs'), { signal: controller.signal }), { name: 'AbortError' })
    assert.deepEqual(await readdir(parent), [])
  })
})
