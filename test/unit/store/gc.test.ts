import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { blobsOnDisk, listDir, putBlob, putImage, tempStore } from '../../helpers/store.ts'
import { deadPid } from '../../helpers/tools.ts'
import { sha256 } from '../../helpers/bytes.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import type { Descriptor } from '../../../src/oci/types.ts'
import type { Store } from '../../../src/store/store.ts'
import { sweepBlobs } from '../../../src/store/gc.ts'

const digestsOf = (...descriptors: Descriptor[]): string[] => descriptors.map(d => d.digest).sort()

async function removed (store: Store, options = { graceMs: 0 }): Promise<string[]> {
  return (await store.gc(options)).removed.map(r => r.digest).sort()
}

test('keeps everything index.json reaches, and blobs shared by two images, removing only unreferenced blobs', async (t) => {
  const store = await tempStore(t)
  const a = await putImage(store, ['shared base', 'only in a'], 'a')
  const b = await putImage(store, ['shared base', 'only in b'], 'b')
  const orphan = await putBlob(store, 'nobody points at me')
  await store.refs.set('a:1', a.manifest)
  await store.refs.set('b:1', b.manifest)
  const result = await store.gc({ graceMs: 0 })
  assert.deepEqual(result.removed, [{ digest: orphan.digest, size: orphan.size }])
  assert.equal(result.freedBytes, orphan.size)
  assert.equal(result.kept, 7)
  const all = digestsOf(a.manifest, a.config, ...a.layers, b.manifest, b.config, ...b.layers)
  assert.deepEqual(await blobsOnDisk(store), [...new Set(all)].sort())

  // Untag a: its own blobs go, the layer it shares with b stays.
  await store.refs.remove('a:1')
  assert.deepEqual(await removed(store), digestsOf(a.manifest, a.config, a.layers[1] as Descriptor))
  assert.deepEqual(await blobsOnDisk(store), digestsOf(b.manifest, b.config, ...b.layers))
  assert.deepEqual(await removed(store), [])
})

test('follows nested indexes and subjects from index.json', async (t) => {
  const store = await tempStore(t)
  const amd = await putImage(store, ['amd'], 'amd')
  const arm = await putImage(store, ['arm'], 'arm')
  const inner = await putBlob(store, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [arm.manifest] }), MEDIA_TYPE.ociIndex)
  const outer = await putBlob(store, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [amd.manifest, inner] }), MEDIA_TYPE.ociIndex)
  const subject = await putImage(store, ['signed'], 'subject')
  const sigConfig = await putBlob(store, '{}', MEDIA_TYPE.ociEmpty)
  const signature = await putBlob(store, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: sigConfig, layers: [], subject: subject.manifest }), MEDIA_TYPE.ociManifest)
  const opaque = await putBlob(store, 'an artifact of unknown type', 'application/vnd.example+type')
  const artifact = await putBlob(store, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: sigConfig, layers: [opaque] }), MEDIA_TYPE.ociManifest)
  await store.refs.set('multi:1', outer)
  await store.refs.set('sig:1', signature)
  await store.refs.set('artifact:1', artifact)
  assert.deepEqual(await removed(store), [])
  assert.equal((await blobsOnDisk(store)).length, 15)
})

test('pins keep an untagged image and everything below it, and opaque pinned blobs', async (t) => {
  const store = await tempStore(t)
  const img = await putImage(store, ['pinned layer'])
  const raw = await putBlob(store, 'not json at all')
  const junk = await putBlob(store, 'junk')
  await store.pins.add(img.manifest.digest, 'img')
  await store.pins.add(raw.digest)
  assert.deepEqual(await removed(store), [junk.digest])
  assert.deepEqual(await blobsOnDisk(store), digestsOf(img.manifest, img.config, ...img.layers, raw))
  await store.pins.remove(img.manifest.digest)
  assert.deepEqual(await removed(store), digestsOf(img.manifest, img.config, ...img.layers))
  // A pin of a blob that is gone is not an error.
  await store.blobs.delete(raw.digest)
  assert.deepEqual(await removed(store), [])
})

test('never deletes a blob held by a live lease, even one not yet referenced', async (t) => {
  const store = await tempStore(t)
  const lease = await store.createLease()
  const data = Buffer.from('in flight')
  await store.blobs.write(sha256(data), [data], { lease })
  assert.deepEqual(await removed(store), [])
  assert.deepEqual(await blobsOnDisk(store), [sha256(data)])
  await lease.release()
  assert.deepEqual(await removed(store), [sha256(data)])
})

test('leases of dead processes protect nothing and are removed', async (t) => {
  const store = await tempStore(t)
  const blob = await putBlob(store, 'leased by a dead writer')
  await mkdir(store.paths.leasesDir, { recursive: true })
  const stale = join(store.paths.leasesDir, `lease.${await deadPid()}.0123456789ab`)
  await writeFile(stale, blob.digest + '\n')
  assert.deepEqual(await removed(store), [blob.digest])
  assert.deepEqual(await listDir(store.paths.leasesDir), [])
})

test('the grace period keeps recent blobs; older unreferenced ones go', async (t) => {
  const store = await tempStore(t)
  const fresh = await putBlob(store, 'just written')
  const old = await putBlob(store, 'written long ago')
  const hourAgo = new Date(Date.now() - 3_600_000)
  await utimes(store.paths.blob(old.digest), hourAgo, hourAgo)
  const result = await store.gc()
  assert.deepEqual(result.removed.map(r => r.digest), [old.digest])
  assert.equal(result.kept, 1)
  assert.deepEqual(await blobsOnDisk(store), [fresh.digest])
})

test('a dry run reports without deleting', async (t) => {
  const store = await tempStore(t)
  const orphan = await putBlob(store, 'orphan')
  const result = await store.gc({ graceMs: 0, dryRun: true })
  assert.deepEqual(result.removed, [{ digest: orphan.digest, size: orphan.size }])
  assert.deepEqual(await blobsOnDisk(store), [orphan.digest])
})

test('an index.json entry whose blobs are missing does not stop GC', async (t) => {
  const store = await tempStore(t)
  const img = await putImage(store, ['layer'])
  await store.refs.set('x:1', img.manifest)
  await store.blobs.delete(img.config.digest)
  const orphan = await putBlob(store, 'orphan')
  assert.deepEqual(await removed(store), [orphan.digest])
  assert.deepEqual(await blobsOnDisk(store), digestsOf(img.manifest, ...img.layers))
})

test('GC removes temp files of dead writers but not of live ones', async (t) => {
  const store = await tempStore(t)
  await mkdir(store.paths.tmpDir, { recursive: true })
  const dead = `blob.${await deadPid()}.aaaaaaaaaaaa`
  const live = `blob.${process.pid}.bbbbbbbbbbbb`
  await writeFile(join(store.paths.tmpDir, dead), 'x')
  await writeFile(join(store.paths.tmpDir, live), 'y')
  await store.gc({ graceMs: 0 })
  assert.deepEqual(await listDir(store.paths.tmpDir), [live])
})

test('a writer that leases a blob after GC read the leases keeps it: the sweep checks the leases again', async (t) => {
  const store = await tempStore(t)
  const kept = await putBlob(store, 'about to be referenced again')
  const gone = await putBlob(store, 'nobody wants this')
  // As a writer does it: lease first, then look (blob-store.ts write), here after GC decided both are garbage.
  const lease = await store.createLease()
  t.after(async () => { await lease.release() })
  const existing = await store.blobs.write(kept.digest, [Buffer.from('about to be referenced again')], { lease })
  assert.equal(existing.digest, kept.digest)
  const deleted = await sweepBlobs(store, [kept.digest, gone.digest])
  assert.deepEqual(deleted, [gone.digest])
  assert.equal(await store.blobs.has(kept.digest), true)
  assert.equal(await store.blobs.has(gone.digest), false)
  assert.ok(!(await listDir(store.paths.privateDir)).includes('trash'), 'nothing is left aside')
})
