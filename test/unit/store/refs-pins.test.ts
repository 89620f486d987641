import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { tempStore, putImage } from '../../helpers/store.ts'
import { REF_NAME_ANNOTATION } from '../../../src/oci/reference.ts'
import { parseIndex } from '../../../src/oci/types.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'

test('a new store has an empty index.json and an oci-layout file', async (t) => {
  const store = await tempStore(t)
  assert.deepEqual(JSON.parse(await readFile(store.paths.layoutFile, 'utf8')), { imageLayoutVersion: '1.0.0' })
  const index = JSON.parse(await readFile(store.paths.indexFile, 'utf8')) as unknown
  assert.deepEqual(index, { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [] })
  assert.deepEqual(await store.refs.list(), [])
})

test('set, get, list and remove refs; index.json holds them as ref.name annotations', async (t) => {
  const store = await tempStore(t)
  const one = await putImage(store, ['one'], 'one')
  const two = await putImage(store, ['two'], 'two')
  await store.refs.set('app:1', one.manifest)
  await store.refs.set('team/app:2', { ...two.manifest, annotations: { 'org.example.note': 'kept' } })
  assert.equal((await store.refs.get('app:1'))?.digest, one.manifest.digest)
  assert.equal((await store.refs.get('app:2')), undefined)
  assert.deepEqual((await store.refs.list()).map(e => e.ref), ['app:1', 'team/app:2'])

  const onDisk = parseIndex(await readFile(store.paths.indexFile))
  assert.deepEqual(onDisk.manifests.map(d => [d.annotations?.[REF_NAME_ANNOTATION], d.digest, d.size, d.mediaType]), [
    ['app:1', one.manifest.digest, one.manifest.size, MEDIA_TYPE.ociManifest],
    ['team/app:2', two.manifest.digest, two.manifest.size, MEDIA_TYPE.ociManifest]
  ])
  assert.equal(onDisk.manifests[1]?.annotations?.['org.example.note'], 'kept')

  // Re-pointing a ref replaces its entry instead of adding a second one.
  await store.refs.set('app:1', two.manifest)
  assert.equal((await store.refs.get('app:1'))?.digest, two.manifest.digest)
  assert.equal(parseIndex(await readFile(store.paths.indexFile)).manifests.length, 2)

  assert.equal((await store.refs.remove('app:1'))?.digest, two.manifest.digest)
  assert.equal(await store.refs.remove('app:1'), undefined)
  assert.deepEqual((await store.refs.list()).map(e => e.ref), ['team/app:2'])
  assert.deepEqual(parseIndex(await readFile(store.paths.indexFile)).manifests.map(d => d.annotations?.[REF_NAME_ANNOTATION]), ['team/app:2'])
})

test('untagged entries in index.json are kept by ref updates', async (t) => {
  const store = await tempStore(t)
  const one = await putImage(store, ['one'])
  const two = await putImage(store, ['two'])
  await writeFile(store.paths.indexFile, JSON.stringify({ schemaVersion: 2, manifests: [one.manifest] }))
  await store.refs.set('x:1', two.manifest)
  await store.refs.remove('x:1')
  assert.deepEqual(parseIndex(await readFile(store.paths.indexFile)).manifests, [one.manifest])
})

test('concurrent ref updates are all kept (the index lock serialises them)', async (t) => {
  const store = await tempStore(t)
  const img = await putImage(store, ['layer'])
  await Promise.all(Array.from({ length: 20 }, async (_, i) => { await store.refs.set(`app:${i}`, img.manifest) }))
  assert.equal((await store.refs.list()).length, 20)
  assert.equal(parseIndex(await readFile(store.paths.indexFile)).manifests.length, 20)
})

test('a corrupt index.json is an error, not an empty store', async (t) => {
  const store = await tempStore(t)
  await writeFile(store.paths.indexFile, '{"schemaVersion":2,"manifests":[')
  await assert.rejects(store.refs.list(), { name: 'InvalidManifestError' })
})

test('resolve finds name:tag, name@digest and bare digests', async (t) => {
  const store = await tempStore(t)
  const img = await putImage(store, ['layer'])
  await store.refs.set('app:1', img.manifest)
  assert.equal((await store.resolve('app:1')).descriptor.digest, img.manifest.digest)
  assert.equal((await store.resolve(`app:1@${img.manifest.digest}`)).ref, 'app:1')
  assert.equal((await store.resolve(img.manifest.digest)).descriptor.mediaType, MEDIA_TYPE.ociManifest)
  // An untagged manifest is found by digest, its media type sniffed from its content.
  const other = await putImage(store, ['other'])
  assert.deepEqual((await store.resolve(`app@${other.manifest.digest}`)).descriptor, { ...other.manifest })
  await assert.rejects(store.resolve('app:2'), { name: 'RefNotFoundError' })
  await assert.rejects(store.resolve('app'), { name: 'RefNotFoundError' })
  await assert.rejects(store.resolve(`app:1@${other.manifest.digest}`), { name: 'RefNotFoundError' })
  await assert.rejects(store.resolve(`sha256:${'0'.repeat(64)}`), { name: 'RefNotFoundError' })
  await assert.rejects(store.resolve('sha256:0000'), { name: 'InvalidDigestError' })
  await assert.rejects(store.resolve('App:1'), { name: 'InvalidReferenceError' })
})

test('pins: add, list, remove, with notes, kept in .emergence/pins.json', async (t) => {
  const store = await tempStore(t)
  const a = await putImage(store, ['a'])
  const b = await putImage(store, ['b'])
  assert.deepEqual(await store.pins.list(), [])
  await store.pins.add(a.manifest.digest, 'app:1')
  await store.pins.add(b.manifest.digest)
  await store.pins.add(a.manifest.digest, 'app:1 again')
  assert.deepEqual(await store.pins.list(), [{ digest: b.manifest.digest }, { digest: a.manifest.digest, note: 'app:1 again' }])
  const file = JSON.parse(await readFile(store.paths.pinsFile, 'utf8')) as { pins: Array<{ digest: string }> }
  assert.deepEqual(file.pins.map(p => p.digest), [b.manifest.digest, a.manifest.digest])
  assert.equal(await store.pins.remove(b.manifest.digest), true)
  assert.equal(await store.pins.remove(b.manifest.digest), false)
  assert.deepEqual((await store.pins.list()).map(p => p.digest), [a.manifest.digest])
})

test('a pins file holding an invalid digest is refused', async (t) => {
  const store = await tempStore(t)
  await mkdir(store.paths.privateDir, { recursive: true })
  await writeFile(store.paths.pinsFile, JSON.stringify({ pins: [{ digest: 'sha256:../../etc' }] }))
  await assert.rejects(store.pins.list())
})
