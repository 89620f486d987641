import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { blobsOnDisk, listDir, putImage, tempStore } from '../../helpers/store.ts'

test('a healthy store verifies clean', async (t) => {
  const store = await tempStore(t)
  const img = await putImage(store, ['a', 'b'])
  await store.refs.set('x:1', img.manifest)
  const result = await store.verify()
  assert.equal(result.checked, 4)
  assert.equal(result.bytes, img.manifest.size + img.config.size + 2)
  assert.deepEqual([result.corrupt, result.missing, result.quarantined], [[], [], []])
})

test('finds a blob whose bytes changed, and with quarantine moves it out of blobs/', async (t) => {
  const store = await tempStore(t)
  const img = await putImage(store, ['good layer', 'this layer rots'])
  await store.refs.set('x:1', img.manifest)
  const rotten = img.layers[1]?.digest ?? assert.fail()
  await writeFile(store.paths.blob(rotten), 'this layer rotz')

  const report = await store.verify()
  assert.deepEqual(report.corrupt.map(c => c.digest), [rotten])
  assert.notEqual(report.corrupt[0]?.actual, rotten)
  assert.ok((await blobsOnDisk(store)).includes(rotten), 'without quarantine nothing moves')

  const fixed = await store.verify({ quarantine: true })
  assert.deepEqual(fixed.quarantined, [rotten])
  assert.equal((await blobsOnDisk(store)).includes(rotten), false)
  const quarantined = join(store.paths.quarantineDir, `sha256-${rotten.slice(7)}`)
  assert.deepEqual(await listDir(store.paths.quarantineDir), [`sha256-${rotten.slice(7)}`])
  assert.equal(await readFile(quarantined, 'utf8'), 'this layer rotz')

  // Now the image lacks a blob: verify says which.
  const after = await store.verify()
  assert.deepEqual(after.corrupt, [])
  assert.deepEqual(after.missing, [rotten])
})
