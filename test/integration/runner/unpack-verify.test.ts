/**
 * Unpack inputs: tar, tar+gzip and tar+zstd layers give the same tree (and umoci's, for the two it reads);
 * a wrong layer digest, a wrong diff_id or a broken tar fail with typed errors and leave nothing behind;
 * an index picks the host's manifest.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { digestOf } from '../../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import { loadImage } from '../../../src/runner/image.ts'
import { unpackRootfs } from '../../../src/runner/unpack.ts'
import { buildTar, ingestLayout, umoci, writeLayout, type HandmadeImage, type TarEntry } from './helpers/images.ts'
import type { Descriptor } from '../../../src/oci/types.ts'
import { diffTrees, snapshotTree } from './helpers/tree.ts'

const LAYER1: TarEntry[] = [
  { header: { name: './', type: 'directory', mode: 0o755 } },
  { header: { name: 'bin/', type: 'directory' } },
  { header: { name: 'bin/tool', type: 'file', mode: 0o4755, uid: 10, gid: 20 }, content: 'tool\n'.repeat(1000) },
  { header: { name: 'bin/alias', type: 'symlink', linkname: 'tool' } },
  { header: { name: 'etc/conf', type: 'file', mode: 0o600 }, content: 'a=1\n' },
  { header: { name: 'etc/conf.hard', type: 'link', linkname: 'etc/conf' } },
  { header: { name: 'dev/zero', type: 'character-device', devmajor: 1, devminor: 5, mode: 0o666 } },
  { header: { name: 'run/fifo', type: 'fifo', mode: 0o600 } },
  { header: { name: 'old/dir/f', type: 'file' }, content: 'f' }
]
const LAYER2: TarEntry[] = [
  { header: { name: 'old/.wh.dir', type: 'file' } },
  { header: { name: 'etc/.wh..wh..opq', type: 'file' } },
  { header: { name: 'etc/new', type: 'file' }, content: 'new\n' }
]

describe('unpack inputs and verification', () => {
  let dir: string
  let store: Store
  let layers: Buffer[]

  async function ingestLayoutOf (layout: string, ref: string, image: HandmadeImage): Promise<Descriptor> {
    await writeLayout(layout, 't', image)
    return await ingestLayout(layout, 't', store, ref)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-verify-'))
    store = await Store.open(join(dir, 'store'))
    layers = [await buildTar(LAYER1), await buildTar(LAYER2)]
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('unpacks tar, tar+gzip and tar+zstd layers to the same tree, equal to umoci for tar and gzip, in a worker or not', async () => {
    const trees = []
    for (const compression of ['none', 'gzip', 'zstd'] as const) {
      const layout = join(dir, `layout-${compression}`)
      await writeLayout(layout, 't', { layers, compression })
      await ingestLayout(layout, 't', store, `verify/${compression}:t`)
      const target = join(dir, `rootfs-${compression}`)
      await unpackRootfs(store, await loadImage(store, `verify/${compression}:t`), target, { worker: compression !== 'none' })
      const tree = await snapshotTree(target)
      trees.push(tree)
      if (compression !== 'zstd') {
        await umoci('unpack', '--image', `${layout}:t`, join(dir, `umoci-${compression}`))
        assert.deepEqual(diffTrees(await snapshotTree(join(dir, `umoci-${compression}`, 'rootfs')), tree), [])
      }
    }
    assert.deepEqual(diffTrees(trees[0]!, trees[1]!), [])
    assert.deepEqual(diffTrees(trees[0]!, trees[2]!), [])
    const tree = trees[0]!
    assert.deepEqual([...tree.keys()].filter(p => p.startsWith('etc')), ['etc', 'etc/new'])
    assert.equal(tree.has('old/dir'), false)
    assert.equal(tree.get('bin/tool')?.owner, '10:20')
    assert.equal(tree.get('dev/zero')?.type, 'char')
    assert.equal(tree.get('run/fifo')?.type, 'fifo')
  })

  it('rejects a layer whose bytes do not match its digest and removes the partial rootfs', async () => {
    const layout = join(dir, 'layout-tampered')
    await writeLayout(layout, 't', { layers, compression: 'none' })
    const descriptor = await ingestLayout(layout, 't', store, 'verify/tampered:t')
    const image = await loadImage(store, descriptor)
    const layer = image.manifest.layers[0]!
    const path = store.paths.blob(layer.digest)
    const bytes = await readFile(path)
    // Change one byte of a file's content: the tar stays valid, only the digest check can notice.
    const at = bytes.indexOf('tool\ntool')
    bytes[at] = 'T'.charCodeAt(0)
    await writeFile(path, bytes)
    const parent = join(dir, 'tampered')
    await assert.rejects(unpackRootfs(store, image, join(parent, 'rootfs')), { name: 'LayerDigestMismatchError' })
    assert.deepEqual(await readdir(parent), [])
  })

  it('rejects a layer whose uncompressed tar does not match its diff_id', async () => {
    const layout = join(dir, 'layout-diffid')
    await writeLayout(layout, 't', { layers, diffIds: [digestOf('not this layer'), digestOf('nor this one')] })
    await ingestLayout(layout, 't', store, 'verify/diffid:t')
    const parent = join(dir, 'diffid')
    await assert.rejects(unpackRootfs(store, await loadImage(store, 'verify/diffid:t'), join(parent, 'rootfs')), { name: 'DiffIdMismatchError' })
    assert.deepEqual(await readdir(parent), [])
  })

  it('rejects a layer that is not a tar', async () => {
    const layout = join(dir, 'layout-garbage')
    await writeLayout(layout, 't', { layers: [Buffer.from('this is not a tar archive '.repeat(40))] })
    await ingestLayout(layout, 't', store, 'verify/garbage:t')
    const parent = join(dir, 'garbage')
    await assert.rejects(unpackRootfs(store, await loadImage(store, 'verify/garbage:t'), join(parent, 'rootfs')), { name: 'InvalidLayerError' })
    assert.deepEqual(await readdir(parent), [])
  })

  it('refuses to unpack over an existing directory', async () => {
    const target = join(dir, 'exists')
    await mkdir(target)
    await assert.rejects(unpackRootfs(store, await loadImage(store, 'verify/gzip:t'), target), { name: 'InvalidRunRequestError' })
  })

  it('picks the host platform from an index, wherever it stands, and refuses an index without it', async () => {
    const manifest = (await store.refs.get('verify/gzip:t'))!
    const host = (await loadImage(store, manifest)).config
    // The foreign entry is another manifest (another digest), so picking the wrong entry cannot go unnoticed.
    const foreign = await ingestLayoutOf(join(dir, 'layout-s390x'), 'verify/s390x:t', { layers, os: 'linux', architecture: 's390x' })
    assert.notEqual(foreign.digest, manifest.digest)
    const other = { mediaType: foreign.mediaType, digest: foreign.digest, size: foreign.size, platform: { os: 'linux', architecture: 's390x' } }
    const mine = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: { os: 'linux', architecture: host.architecture ?? '' } }
    for (const [name, entries] of [['other-first', [other, mine]], ['mine-first', [mine, other]], ['foreign', [other]]] as const) {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: entries }))
      const digest = digestOf(bytes)
      await store.blobs.write(digest, [bytes], { size: bytes.byteLength })
      await store.refs.set(`verify/index-${name}:t`, { mediaType: MEDIA_TYPE.ociIndex, digest, size: bytes.byteLength })
    }
    assert.equal((await loadImage(store, 'verify/index-other-first:t')).manifestDescriptor.digest, manifest.digest)
    assert.equal((await loadImage(store, 'verify/index-mine-first:t')).manifestDescriptor.digest, manifest.digest)
    await assert.rejects(loadImage(store, 'verify/index-foreign:t'), { name: 'NoMatchingPlatformError' })
  })
})
