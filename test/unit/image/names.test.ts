import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nameFromPath, storeRefFor } from '../../../src/image/names.ts'
import { normaliseEntryName, resolveEntry, type ArchiveContents } from '../../../src/image/archive-entries.ts'
import { selectEntries } from '../../../src/image/select.ts'
import { REF_NAME_ANNOTATION } from '../../../src/oci/reference.ts'
import type { Descriptor, ImageIndex } from '../../../src/oci/types.ts'

test('store refs: --name wins, name:tag is kept, a bare tag gets the source name', () => {
  assert.equal(storeRefFor('v1', 'team/app:2', '/x/layout'), 'team/app:2')
  assert.equal(storeRefFor('v1', 'team/app', '/x/layout'), 'team/app:latest')
  assert.equal(storeRefFor('docker.io/library/busybox:1.36', undefined, '/x/layout'), 'docker.io/library/busybox:1.36')
  assert.equal(storeRefFor('busybox:1.36', undefined, '/x/layout'), 'busybox:1.36')
  assert.equal(storeRefFor('v1', undefined, '/x/my-layout'), 'my-layout:v1')
  assert.equal(storeRefFor('latest', undefined, '/x/My_Image.tar'), 'my_image:latest')
})

test('store refs: a --name that breaks the grammar is refused', () => {
  for (const bad of ['App:1', 'app:.x', 'app:a/b', 'app:', '../app:1', 'app:1@sha256:0']) {
    assert.throws(() => storeRefFor('v1', bad, '/x/layout'), { name: 'InvalidReferenceError' }, bad)
  }
  assert.throws(() => storeRefFor(undefined, undefined, '/x/layout'), { name: 'InvalidImageSourceError' })
  assert.throws(() => storeRefFor('Not A Ref!', undefined, '/x/layout'), { name: 'InvalidReferenceError' })
})

test('names derived from paths are valid repository names', () => {
  assert.equal(nameFromPath('/data/Busybox.TAR'), 'busybox')
  assert.equal(nameFromPath('/data/image.tar.gz'), 'image')
  assert.equal(nameFromPath('/data/--weird name!!.oci'), 'weird-name')
  assert.equal(nameFromPath('/data/___'), 'image')
})

test('archive entry names: ./ is dropped; absolute, .. and NUL are hostile', () => {
  assert.equal(normaliseEntryName('./blobs/sha256/ab'), 'blobs/sha256/ab')
  assert.equal(normaliseEntryName('blobs//sha256/./ab/'), 'blobs/sha256/ab')
  for (const bad of ['/etc/passwd', '../x', 'blobs/../../x', 'a/..', 'a\0b']) {
    assert.throws(() => normaliseEntryName(bad), { name: 'HostileArchiveEntryError', code: 'ARCHIVE_HOSTILE' }, bad)
  }
})

test('links between entries are followed, and loops stop', () => {
  const contents: ArchiveContents = { files: new Map(), blobs: new Map(), links: new Map([['a/layer.tar', 'b/layer.tar'], ['b/layer.tar', 'c.tar'], ['x', 'y'], ['y', 'x']]) }
  assert.equal(resolveEntry(contents, './a/layer.tar'), 'c.tar')
  assert.equal(resolveEntry(contents, 'c.tar'), 'c.tar')
  assert.throws(() => resolveEntry(contents, 'x'), { name: 'InvalidImageSourceError' })
})

const d = (c: string, ref?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${c.repeat(64)}`,
  size: 1,
  ...(ref !== undefined ? { annotations: { [REF_NAME_ANNOTATION]: ref } } : {})
})
const index = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, manifests })

test('selecting entries of a source index', () => {
  assert.deepEqual(selectEntries(index(d('1', 'a'), d('2'), d('3', 'b')), undefined, 'src'), [d('1', 'a'), d('3', 'b')])
  assert.deepEqual(selectEntries(index(d('1', 'a'), d('3', 'b')), 'b', 'src'), [d('3', 'b')])
  assert.deepEqual(selectEntries(index(d('2')), undefined, 'src'), [d('2')])
  assert.throws(() => selectEntries(index(d('1', 'a')), 'c', 'src'), (err: Error) => err.name === 'InvalidImageSourceError' && /has: a/.test(err.message))
  assert.throws(() => selectEntries(index(d('1'), d('2')), undefined, 'src'), { name: 'InvalidImageSourceError' })
  assert.throws(() => selectEntries(index(), undefined, 'src'), { name: 'InvalidImageSourceError' })
})
