import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exportImage } from '../../../src/image/export.ts'
import { importLayout } from '../../../src/image/import-layout.ts'
import { parseIndex } from '../../../src/oci/types.ts'
import { REF_NAME_ANNOTATION } from '../../../src/oci/reference.ts'
import { LayoutWriter } from '../../helpers/layout.ts'
import { listDir, tempStore } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { snapshotLines, snapshotTree } from '../../helpers/snapshot.ts'
import type { Store } from '../../../src/store/store.ts'

async function storeWithTwoImages (t: Parameters<typeof tempDir>[0]): Promise<{ store: Store, digests: { one: string, two: string } }> {
  const store = await tempStore(t)
  const src = await tempDir(t)
  const layout = await LayoutWriter.create(src)
  const one = await layout.image([{ shared: 's' }, { one: '1' }])
  const two = await layout.image([{ shared: 's' }, { two: '2' }])
  await layout.index([{ descriptor: one.manifest, ref: 'app:1' }, { descriptor: two.manifest, ref: 'app:2' }])
  await importLayout(store, src)
  return { store, digests: { one: one.manifest.digest, two: two.manifest.digest } }
}

const refsIn = async (dir: string): Promise<Array<[string | undefined, string]>> =>
  parseIndex(await readFile(join(dir, 'index.json'))).manifests.map(d => [d.annotations?.[REF_NAME_ANNOTATION], d.digest])

test('exports to a new directory as a complete layout with byte-identical blobs', async (t) => {
  const { store, digests } = await storeWithTwoImages(t)
  const parent = await tempDir(t)
  const dir = join(parent, 'out')
  const result = await exportImage(store, 'app:1', dir)
  assert.deepEqual(result, { ref: 'app:1', dir, digest: digests.one, blobs: 4, bytes: result.bytes })
  assert.deepEqual(await listDir(parent), ['out'], 'no staging directory is left beside the target')
  assert.deepEqual(await listDir(dir), ['blobs', 'index.json', 'oci-layout'])
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' })
  assert.deepEqual(await refsIn(dir), [['app:1', digests.one]])
  const files = await listDir(join(dir, 'blobs', 'sha256'))
  assert.equal(files.length, 4)
  for (const hex of files) assert.deepEqual(await readFile(join(dir, 'blobs', 'sha256', hex)), await store.blobs.readBytes(`sha256:${hex}`))
})

test('exports into an empty directory, and adds to an existing layout', async (t) => {
  const { store, digests } = await storeWithTwoImages(t)
  const dir = await tempDir(t)
  await exportImage(store, 'app:1', dir, { as: 'first' })
  const second = await exportImage(store, `app@${digests.two}`, dir, { as: 'second' })
  assert.equal(second.blobs, 4)
  assert.deepEqual(await refsIn(dir), [['first', digests.one], ['second', digests.two]])
  assert.equal((await listDir(join(dir, 'blobs', 'sha256'))).length, 7)
  // Re-exporting the same ref replaces its entry.
  await exportImage(store, 'app:2', dir, { as: 'first' })
  assert.deepEqual(await refsIn(dir), [['second', digests.two], ['first', digests.two]])
})

test('refuses targets that are files or non-empty non-layout directories, changing nothing', async (t) => {
  const { store } = await storeWithTwoImages(t)
  const parent = await tempDir(t)
  await mkdir(join(parent, 'busy'))
  await writeFile(join(parent, 'busy', 'keep.txt'), 'mine')
  await writeFile(join(parent, 'file'), 'a file')
  const before = snapshotLines(await snapshotTree(parent, []))
  await assert.rejects(exportImage(store, 'app:1', join(parent, 'busy')), { name: 'ExportTargetError' })
  await assert.rejects(exportImage(store, 'app:1', join(parent, 'file')), { name: 'ExportTargetError' })
  await assert.rejects(exportImage(store, 'nope:1', join(parent, 'new')), { name: 'RefNotFoundError' })
  assert.deepEqual(snapshotLines(await snapshotTree(parent, [])), before)
})
