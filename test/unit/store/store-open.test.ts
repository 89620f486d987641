import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { defaultDataDir, storeRoot } from '../../../src/store/paths.ts'
import { tempDir } from '../../helpers/temp.ts'
import { listDir, putImage } from '../../helpers/store.ts'
import { deadPid } from '../../helpers/tools.ts'
import { snapshotLines, snapshotTree } from '../../helpers/snapshot.ts'

test('creates the layout in an absent or empty directory', async (t) => {
  const root = join(await tempDir(t), 'a', 'b')
  const store = await Store.open(root)
  assert.equal(store.root, root)
  assert.deepEqual(await listDir(root), ['.emergence', 'blobs', 'index.json', 'oci-layout'])
  assert.deepEqual(await listDir(join(root, 'blobs')), ['sha256'])
  const empty = await tempDir(t)
  await Store.open(empty)
  assert.equal(JSON.parse(await readFile(join(empty, 'oci-layout'), 'utf8')).imageLayoutVersion, '1.0.0')
})

test('reopening keeps what the store holds', async (t) => {
  const root = await tempDir(t)
  const store = await Store.open(root)
  const img = await putImage(store, ['layer'])
  await store.refs.set('app:1', img.manifest)
  const before = snapshotLines(await snapshotTree(root))
  const again = await Store.open(root)
  assert.equal((await again.refs.get('app:1'))?.digest, img.manifest.digest)
  assert.deepEqual(snapshotLines(await snapshotTree(root)), before)
})

test('opens an existing OCI layout written by someone else', async (t) => {
  const root = await tempDir(t)
  await writeFile(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  await writeFile(join(root, 'index.json'), '{"schemaVersion":2,"manifests":[]}')
  const store = await Store.open(root)
  assert.deepEqual(await store.refs.list(), [])
})

test('refuses a non-empty directory that is not a layout, and changes nothing in it', async (t) => {
  const root = await tempDir(t)
  await writeFile(join(root, 'notes.txt'), 'my files')
  await mkdir(join(root, 'photos'))
  const before = snapshotLines(await snapshotTree(root))
  await assert.rejects(Store.open(root), { name: 'NotALayoutError', code: 'LAYOUT_INVALID' })
  assert.deepEqual(snapshotLines(await snapshotTree(root)), before)
  // An index.json of someone else's (no blobs/ beside it) is foreign content too.
  const other = await tempDir(t)
  await writeFile(join(other, 'index.json'), '{"not":"a layout"}')
  await assert.rejects(Store.open(other), { name: 'NotALayoutError' })
  assert.deepEqual(await listDir(other), ['index.json'])
})

test('completes a layout another process left without its oci-layout file', async (t) => {
  const root = await tempDir(t)
  await mkdir(join(root, 'blobs', 'sha256'), { recursive: true })
  await writeFile(join(root, 'index.json'), '{"schemaVersion":2,"manifests":[]}')
  const store = await Store.open(root)
  assert.deepEqual(await listDir(root), ['.emergence', 'blobs', 'index.json', 'oci-layout'])
  assert.deepEqual(await store.refs.list(), [])
})

test('refuses an unsupported or unreadable oci-layout', async (t) => {
  const newer = await tempDir(t)
  await writeFile(join(newer, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}')
  await assert.rejects(Store.open(newer), { name: 'NotALayoutError' })
  const garbage = await tempDir(t)
  await writeFile(join(garbage, 'oci-layout'), 'not json')
  await assert.rejects(Store.open(garbage), { name: 'NotALayoutError' })
})

test('open removes temp files of dead writers and keeps those of live ones', async (t) => {
  const root = await tempDir(t)
  await Store.open(root)
  const tmp = join(root, '.emergence', 'tmp')
  await mkdir(tmp, { recursive: true })
  const pid = await deadPid()
  const live = `blob.${process.pid}.cccccccccccc`
  await writeFile(join(tmp, `blob.${pid}.aaaaaaaaaaaa`), 'half a blob')
  await writeFile(join(tmp, `index.json.${pid}.bbbbbbbbbbbb`), '{"half')
  await writeFile(join(tmp, live), 'being written')
  await Store.open(root)
  assert.deepEqual(await listDir(tmp), [live])
})

test('the data directory comes from the environment, else XDG, else the home directory', () => {
  assert.equal(defaultDataDir({ EMERGENCE_DATA_DIR: '/srv/em' }), '/srv/em')
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x' }), '/x/emergence')
  assert.match(defaultDataDir({ XDG_DATA_HOME: 'relative' }), /\/\.local\/share\/emergence$/)
  assert.equal(storeRoot('/srv/em'), '/srv/em/oci')
})
