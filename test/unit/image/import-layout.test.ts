import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { importLayout, splitLayoutArgument } from '../../../src/image/import-layout.ts'
import { describeImage, listImages } from '../../../src/image/describe.ts'
import { LayoutWriter } from '../../helpers/layout.ts'
import { blobsOnDisk, listDir, tempStore } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { hostPlatform } from '../../../src/oci/platform.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import { parseIndex } from '../../../src/oci/types.ts'
import { REF_NAME_ANNOTATION } from '../../../src/oci/reference.ts'

async function twoImageLayout (dir: string): Promise<{ layout: LayoutWriter, one: Awaited<ReturnType<LayoutWriter['image']>>, two: Awaited<ReturnType<LayoutWriter['image']>> }> {
  const layout = await LayoutWriter.create(dir)
  const one = await layout.image([{ 'etc/os-release': 'ID=test\n' }, { 'bin/one': 'one' }])
  const two = await layout.image([{ 'etc/os-release': 'ID=test\n' }, { 'bin/two': 'two' }], { author: 'two' })
  await layout.index([{ descriptor: one.manifest, ref: 'one' }, { descriptor: two.manifest, ref: 'team/two:2.0' }])
  return { layout, one, two }
}

test('imports every tagged image of a layout; shared blobs are stored once', async (t) => {
  const store = await tempStore(t)
  const dir = join(await tempDir(t), 'my-layout')
  const { one, two } = await twoImageLayout(dir)
  const results = await importLayout(store, dir)
  assert.deepEqual(results.map(r => [r.ref, r.digest, r.blobs, r.newBlobs]), [
    ['my-layout:one', one.manifest.digest, 4, 4],
    ['team/two:2.0', two.manifest.digest, 4, 3]
  ])
  assert.equal(results[0]?.bytesWritten, one.manifest.size + one.config.size + one.layers.reduce((n, l) => n + l.size, 0))
  const expected = new Set([one.manifest, one.config, ...one.layers, two.manifest, two.config, ...two.layers].map(d => d.digest))
  assert.equal(expected.size, 7)
  assert.deepEqual(await blobsOnDisk(store), [...expected].sort())
  for (const digest of expected) {
    assert.deepEqual(await store.blobs.readBytes(digest), await readFile(join(dir, 'blobs', 'sha256', digest.slice(7))))
  }
  // The store's index.json carries the store refs, not the source's.
  const index = parseIndex(await readFile(store.paths.indexFile))
  assert.deepEqual(index.manifests.map(d => d.annotations?.[REF_NAME_ANNOTATION]).sort(), ['my-layout:one', 'team/two:2.0'])
  assert.deepEqual(await listDir(store.paths.leasesDir), [])

  // Importing again writes nothing.
  const again = await importLayout(store, dir)
  assert.deepEqual(again.map(r => [r.newBlobs, r.bytesWritten]), [[0, 0], [0, 0]])
})

test('picks one image with sourceRef and renames it with as', async (t) => {
  const store = await tempStore(t)
  const dir = await tempDir(t)
  const { two } = await twoImageLayout(dir)
  const [result] = await importLayout(store, dir, { sourceRef: 'team/two:2.0', as: 'renamed:x' })
  assert.equal(result?.ref, 'renamed:x')
  assert.deepEqual((await store.refs.list()).map(e => [e.ref, e.descriptor.digest]), [['renamed:x', two.manifest.digest]])
  await assert.rejects(importLayout(store, dir, { sourceRef: 'nope' }), { name: 'InvalidImageSourceError' })
  await assert.rejects(importLayout(store, dir, { as: 'both:1' }), { name: 'InvalidImageSourceError' })
})

test('imports a multi-platform index with its nested manifests; inspect picks the host platform', async (t) => {
  const store = await tempStore(t)
  const dir = await tempDir(t)
  const layout = await LayoutWriter.create(dir)
  const host = await layout.image([{ host: 'yes' }], { architecture: hostPlatform().architecture })
  const other = await layout.image([{ other: 'yes' }], { architecture: 'mips64le' })
  const index = await layout.blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: [{ ...other.manifest, platform: { os: 'linux', architecture: 'mips64le' } }, { ...host.manifest, platform: hostPlatform() }]
  }), MEDIA_TYPE.ociIndex)
  await layout.index([{ descriptor: index, ref: 'multi:1' }])
  const [result] = await importLayout(store, dir)
  assert.equal(result?.blobs, 7)
  const details = await describeImage(store, 'multi:1')
  assert.equal(details.digest, index.digest)
  assert.equal(details.manifest.digest, host.manifest.digest)
  assert.equal(details.config.architecture, hostPlatform().architecture)
  assert.deepEqual(details.platforms, ['linux/mips64le', `linux/${hostPlatform().architecture}`])
  const [summary] = await listImages(store)
  assert.equal(summary?.size, index.size + [host, other].reduce((n, i) => n + i.manifest.size + i.config.size + (i.layers[0]?.size ?? 0), 0))
})

test('an untagged lone image needs a name', async (t) => {
  const store = await tempStore(t)
  const dir = await tempDir(t)
  const layout = await LayoutWriter.create(dir)
  const img = await layout.image([{ a: 'a' }])
  await layout.index([{ descriptor: img.manifest }])
  await assert.rejects(importLayout(store, dir), { name: 'InvalidImageSourceError' })
  const [result] = await importLayout(store, dir, { as: 'named:1' })
  assert.equal(result?.ref, 'named:1')
})

test('a directory that is not a layout is refused', async (t) => {
  const store = await tempStore(t)
  const dir = await tempDir(t)
  await assert.rejects(importLayout(store, dir), { name: 'InvalidImageSourceError' })
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"9"}')
  await assert.rejects(importLayout(store, dir), { name: 'InvalidImageSourceError' })
})

test('splits <dir>:<ref> like skopeo, preferring a path that exists as given', async (t) => {
  const base = await tempDir(t)
  await mkdir(join(base, 'lay'))
  await mkdir(join(base, 'odd:name'))
  assert.deepEqual(await splitLayoutArgument(join(base, 'lay')), { dir: join(base, 'lay') })
  assert.deepEqual(await splitLayoutArgument(`${join(base, 'lay')}:v1`), { dir: join(base, 'lay'), ref: 'v1' })
  assert.deepEqual(await splitLayoutArgument(`${join(base, 'lay')}:team/app:2`), { dir: join(base, 'lay'), ref: 'team/app:2' })
  assert.deepEqual(await splitLayoutArgument(join(base, 'odd:name')), { dir: join(base, 'odd:name') })
  await assert.rejects(splitLayoutArgument(join(base, 'absent')), { name: 'InvalidImageSourceError' })
})
