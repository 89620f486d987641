import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { patternChunk, sha256 } from '../../helpers/bytes.ts'
import { prefixHashCounts } from '../../../src/store/partial.ts'
import { blobsOnDisk, listDir, tempStore } from '../../helpers/store.ts'

const PIECE = 64 * 1024
const DATA = Buffer.concat([0, 1, 2, 3].map(i => patternChunk(i, PIECE)))
const DIGEST = sha256(DATA)
const piece = (i: number): Buffer => DATA.subarray(i * PIECE, (i + 1) * PIECE)

test('pieces written in any order commit into a verified blob', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  for (const i of [3, 0, 2, 1]) await partial.writeAt(i * PIECE, piece(i))
  assert.equal(await store.blobs.has(DIGEST), false, 'a partial blob is not visible')
  const info = await partial.commit()
  assert.deepEqual(info, { digest: DIGEST, size: DATA.byteLength })
  assert.deepEqual(await readFile(store.paths.blob(DIGEST)), DATA)
  assert.deepEqual(await listDir(store.paths.partialDir), [])
})

test('state survives close and reopen; the data recorded in it is kept', async (t) => {
  const store = await tempStore(t)
  const first = await store.openPartial(DIGEST, DATA.byteLength)
  assert.equal(first.contiguous, 0)
  assert.equal(first.pieces, undefined)
  await first.writeAt(0, piece(0))
  await first.writeAt(2 * PIECE, piece(2))
  await first.saveState({ contiguous: PIECE, pieces: { size: PIECE, have: [0, 2] } })
  await first.close()
  assert.equal((await stat(store.paths.partial(DIGEST))).size, DATA.byteLength)
  assert.deepEqual(JSON.parse(await readFile(store.paths.partial(DIGEST) + '.json', 'utf8')), { size: DATA.byteLength, contiguous: PIECE, pieces: { size: PIECE, have: [0, 2] } })

  const second = await store.openPartial(DIGEST, DATA.byteLength)
  assert.equal(second.contiguous, PIECE)
  assert.deepEqual(second.pieces, { size: PIECE, have: [0, 2] })
  // Only the missing pieces are written this time.
  await second.writeAt(PIECE, piece(1))
  await second.writeAt(3 * PIECE, piece(3))
  await second.commit()
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
})

test('append continues after the verified prefix', async (t) => {
  const store = await tempStore(t)
  const first = await store.openPartial(DIGEST, DATA.byteLength)
  await first.append(Readable.from([piece(0), piece(1)]))
  assert.equal(first.contiguous, 2 * PIECE)
  await first.close()
  const second = await store.openPartial(DIGEST, DATA.byteLength)
  assert.equal(second.contiguous, 2 * PIECE)
  await second.append(Readable.from([piece(2), piece(3)]))
  await second.commit()
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
})

test('without a saved state, a reopened partial starts from nothing', async (t) => {
  const store = await tempStore(t)
  const first = await store.openPartial(DIGEST, DATA.byteLength)
  await first.writeAt(0, piece(0))
  await first.close()
  const second = await store.openPartial(DIGEST, DATA.byteLength)
  assert.equal(second.contiguous, 0)
  const onDisk = await readFile(store.paths.partial(DIGEST))
  assert.equal(onDisk.byteLength, DATA.byteLength)
  assert.ok(onDisk.subarray(0, PIECE).every(b => b === 0), 'unrecorded bytes are dropped')
  await second.discard()
  assert.deepEqual(await listDir(store.paths.partialDir), [])
})

test('a commit of wrong content throws DigestMismatchError and leaves nothing', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  for (const i of [0, 1, 2]) await partial.writeAt(i * PIECE, piece(i))
  await partial.writeAt(3 * PIECE, patternChunk(99, PIECE))
  await partial.saveState({ contiguous: DATA.byteLength })
  await assert.rejects(partial.commit(), { name: 'DigestMismatchError' })
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual(await listDir(store.paths.partialDir), [])
  // The partial can be started afresh afterwards (its lock was released).
  const again = await store.openPartial(DIGEST, DATA.byteLength)
  assert.equal(again.contiguous, 0)
  await again.discard()
})

test('a commit with holes is a mismatch too', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  await partial.writeAt(0, piece(0))
  await assert.rejects(partial.commit(), { name: 'DigestMismatchError' })
  assert.deepEqual(await blobsOnDisk(store), [])
})

test('writes outside the blob are refused', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  t.after(async () => { await partial.discard() })
  await assert.rejects(partial.writeAt(3 * PIECE + 1, piece(3)), { name: 'SizeMismatchError' })
  await assert.rejects(partial.writeAt(-1, piece(0)), { name: 'SizeMismatchError' })
  assert.equal((await stat(store.paths.partial(DIGEST))).size, DATA.byteLength)
})

test('a second opener waits for the lock, then sees the saved state', async (t) => {
  const store = await tempStore(t)
  const first = await store.openPartial(DIGEST, DATA.byteLength)
  await first.writeAt(0, piece(0))
  await first.saveState({ contiguous: PIECE })
  assert.ok((await stat(store.paths.partial(DIGEST) + '.lock')).isDirectory(), 'the open partial is locked')
  let closed = false
  const secondOpening = store.openPartial(DIGEST, DATA.byteLength).then(p => {
    assert.equal(closed, true, 'the second opener got the partial while the first held it')
    return p
  })
  await new Promise(resolve => setTimeout(resolve, 50))
  closed = true
  await first.close()
  const second = await secondOpening
  assert.equal(second.contiguous, PIECE)
  await second.discard()
})

test('a committed partial is leased before it becomes visible', async (t) => {
  const store = await tempStore(t)
  const lease = await store.createLease()
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  await partial.writeAt(0, DATA)
  await partial.commit(lease)
  assert.equal((await store.gc({ graceMs: 0 })).removed.length, 0)
  await lease.release()
  assert.deepEqual((await store.gc({ graceMs: 0 })).removed.map(r => r.digest), [DIGEST])
})

test('pieces written in order are hashed as they come, so the commit reads nothing back', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  for (const i of [0, 1, 2]) await partial.writeAt(i * PIECE, piece(i))
  assert.equal(partial.prefixHashed, 3 * PIECE)
  // A piece as it came off the wire, in uneven chunks.
  const last = piece(3)
  await partial.writev(3 * PIECE, [last.subarray(0, 1000), last.subarray(1000, 1000), last.subarray(1000)])
  assert.equal(partial.prefixHashed, DATA.byteLength)
  await partial.commit()
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
})

test('pieces that reach the partial in order are hashed in that order, whichever disk write finishes first', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  const readBack = prefixHashCounts.readBack
  // Four writes in flight at once: each is hashed from memory as it is handed over, before its write completes.
  const writes = [0, 1, 2, 3].map(i => partial.writeAt(i * PIECE, piece(i)))
  assert.equal(partial.prefixHashed, DATA.byteLength)
  await Promise.all(writes)
  assert.equal(prefixHashCounts.readBack, readBack, 'nothing was read back from the file')
  await partial.commit()
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
})

test('pieces out of order are read back into the hash when the gap before them closes', async (t) => {
  const store = await tempStore(t)
  const partial = await store.openPartial(DIGEST, DATA.byteLength)
  for (const i of [3, 1]) await partial.writeAt(i * PIECE, piece(i))
  assert.equal(partial.prefixHashed, 0)
  await partial.writeAt(0, piece(0))
  await partial.writeAt(2 * PIECE, piece(2))
  const info = await partial.commit()
  assert.deepEqual(info, { digest: DIGEST, size: DATA.byteLength })
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
})

test('rewriting hashed bytes voids the running hash: the commit checks the file as it is', async (t) => {
  const store = await tempStore(t)
  const bad = await store.openPartial(DIGEST, DATA.byteLength)
  for (const i of [0, 1, 2, 3]) await bad.writeAt(i * PIECE, piece(i))
  await bad.writeAt(PIECE, patternChunk(99, PIECE))
  assert.equal(bad.prefixHashed, 0)
  await assert.rejects(bad.commit(), { name: 'DigestMismatchError' })

  const good = await store.openPartial(DIGEST, DATA.byteLength)
  await good.writeAt(PIECE, patternChunk(99, PIECE))
  for (const i of [0, 1, 2, 3]) await good.writeAt(i * PIECE, piece(i))
  await good.commit()
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
})
