import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { importArchive } from '../../../src/image/import-archive.ts'
import { parseImageConfig, parseManifest } from '../../../src/oci/types.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import { LayoutWriter } from '../../helpers/layout.ts'
import { dockerSaveArchive } from '../../helpers/docker-save.ts'
import { directoryEntries, tarBuffer, writeTar } from '../../helpers/tar.ts'
import { blobsOnDisk, listDir, tempStore } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { sha256 } from '../../helpers/bytes.ts'

test('imports an OCI archive (a tar of a layout, ./-prefixed names), plain or gzipped', async (t) => {
  const work = await tempDir(t)
  const layout = await LayoutWriter.create(join(work, 'lay'))
  const img = await layout.image([{ a: 'a' }, { b: 'b' }])
  await layout.index([{ descriptor: img.manifest, ref: 'v1' }])
  const entries = await directoryEntries(layout.dir, './')
  await writeTar(join(work, 'plain.tar'), entries)
  await writeFile(join(work, 'zipped.tar.gz'), gzipSync(await tarBuffer(entries)))

  const store = await tempStore(t)
  const [plain] = await importArchive(store, join(work, 'plain.tar'))
  assert.deepEqual([plain?.ref, plain?.digest, plain?.blobs, plain?.newBlobs], ['plain:v1', img.manifest.digest, 4, 4])
  const [zipped] = await importArchive(store, join(work, 'zipped.tar.gz'), { as: 'zipped:2' })
  assert.deepEqual([zipped?.ref, zipped?.digest, zipped?.newBlobs], ['zipped:2', img.manifest.digest, 0])
  assert.equal((await blobsOnDisk(store)).length, 4)
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
  assert.deepEqual(await listDir(store.paths.leasesDir), [])
})

test('takes the full name from io.containerd.image.name (Docker 25+ OCI-form save)', async (t) => {
  const work = await tempDir(t)
  const layout = await LayoutWriter.create(join(work, 'lay'))
  const img = await layout.image([{ a: 'a' }])
  await layout.index([{ descriptor: { ...img.manifest, annotations: { 'io.containerd.image.name': 'docker.io/library/alpine:3.19', 'org.example': 'kept' } }, ref: '3.19' }])
  const entries = await directoryEntries(layout.dir)
  entries.push({ name: 'manifest.json', data: JSON.stringify([{ Config: `blobs/sha256/${img.config.digest.slice(7)}`, RepoTags: ['alpine:3.19'], Layers: img.layers.map(l => `blobs/sha256/${l.digest.slice(7)}`) }]) })
  await writeTar(join(work, 'save.tar'), entries)
  const store = await tempStore(t)
  const [result] = await importArchive(store, join(work, 'save.tar'))
  assert.equal(result?.ref, 'library/alpine:3.19')
  const stored = await store.refs.get('library/alpine:3.19')
  assert.equal(stored?.digest, img.manifest.digest)
  assert.deepEqual(stored?.annotations, { 'org.example': 'kept', 'org.opencontainers.image.ref.name': 'library/alpine:3.19' })
})

test('imports a legacy docker save archive: layers as uncompressed tars, a symlinked repeat layer', async (t) => {
  const work = await tempDir(t)
  const archive = await dockerSaveArchive([{ layers: [{ 'etc/base': 'base' }, { 'app/bin': 'bin' }, { 'etc/base': 'base' }], repoTags: ['docker.io/team/app:1.0', 'team/app:latest'] }])
  await writeTar(join(work, 'save.tar'), archive.entries)
  const store = await tempStore(t)
  const results = await importArchive(store, join(work, 'save.tar'))
  assert.deepEqual(results.map(r => r.ref), ['team/app:1.0', 'team/app:latest'])
  assert.equal(results[0]?.digest, results[1]?.digest)

  const manifest = parseManifest(await store.blobs.readBytes(results[0]?.digest ?? assert.fail()))
  const [l0, l1, l2] = archive.images[0]?.layers ?? []
  assert.deepEqual(manifest.layers.map(l => [l.mediaType, l.digest, l.size]), [l0, l1, l2].map(tar => [MEDIA_TYPE.ociLayer, sha256(tar ?? ''), tar?.byteLength]))
  assert.equal(manifest.layers[0]?.digest, manifest.layers[2]?.digest)
  assert.deepEqual(await store.blobs.readBytes(manifest.config.digest), archive.images[0]?.config)
  // Config diff_ids are the layers' digests: the layers are uncompressed, as docker save writes them.
  assert.deepEqual(parseImageConfig(await store.blobs.readBytes(manifest.config.digest)).rootfs.diff_ids, manifest.layers.map(l => l.digest))
  // manifest, config, two distinct layers: the symlinked repeat is not stored twice, the per-layer json files not at all.
  assert.equal((await blobsOnDisk(store)).length, 4)
})

test('legacy docker save with hard links, several images, --ref and --name', async (t) => {
  const work = await tempDir(t)
  const archive = await dockerSaveArchive([
    { layers: [{ shared: 's' }, { one: '1' }, { shared: 's' }], repoTags: ['one:1'], hardLinks: true },
    { layers: [{ shared: 's' }, { two: '2' }], repoTags: ['two:2'] }
  ])
  const file = join(work, 'save.tar')
  await writeTar(file, archive.entries)
  const store = await tempStore(t)
  const picked = await importArchive(store, file, { sourceRef: 'two:2' })
  assert.deepEqual(picked.map(r => r.ref), ['two:2'])
  assert.deepEqual((await store.refs.list()).map(e => e.ref), ['two:2'])
  const all = await importArchive(store, file)
  assert.deepEqual(all.map(r => r.ref), ['one:1', 'two:2'])
  assert.equal(all[0]?.blobs, 4, 'manifest, config and two distinct layers (the hard-linked repeat is one blob)')
  const named = await importArchive(store, file, { sourceRef: 'one:1', as: 'renamed:x' })
  assert.deepEqual(named.map(r => r.ref), ['renamed:x'])
  assert.equal(named[0]?.digest, all[0]?.digest)
  assert.deepEqual((await importArchive(store, file, { sourceRef: 'docker.io/one:1' })).map(r => r.ref), ['one:1'])
  await assert.rejects(importArchive(store, file, { sourceRef: 'three:3' }), (err: Error) => err.name === 'InvalidImageSourceError' && /one:1, two:2/.test(err.message))
  await assert.rejects(importArchive(store, file, { as: 'both:1' }), { name: 'InvalidImageSourceError' })
  assert.deepEqual((await store.refs.list()).map(e => e.ref).sort(), ['one:1', 'renamed:x', 'two:2'])
})

test('a docker save image without RepoTags needs --name', async (t) => {
  const work = await tempDir(t)
  const archive = await dockerSaveArchive([{ layers: [{ a: 'a' }], repoTags: null }])
  const file = join(work, 'untagged.tar')
  await writeTar(file, archive.entries)
  const store = await tempStore(t)
  await assert.rejects(importArchive(store, file), { name: 'InvalidImageSourceError' })
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual((await importArchive(store, file, { as: 'given:1' })).map(r => r.ref), ['given:1'])
})

test('a tar that is neither kind of archive, and a file that is not a tar', async (t) => {
  const work = await tempDir(t)
  await writeTar(join(work, 'other.tar'), [{ name: 'README', data: 'hello' }, { name: 'big.bin', data: Buffer.alloc(10_000, 7) }])
  await writeFile(join(work, 'garbage.tar'), Buffer.alloc(2048, 0x41))
  const store = await tempStore(t)
  await assert.rejects(importArchive(store, join(work, 'other.tar')), { name: 'InvalidImageSourceError' })
  await assert.rejects(importArchive(store, join(work, 'garbage.tar')), { name: 'InvalidImageSourceError' })
  await assert.rejects(importArchive(store, join(work, 'absent.tar')), { code: 'ENOENT' })
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})
