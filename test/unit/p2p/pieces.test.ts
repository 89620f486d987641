import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { choosePieceSize, isValidPieceSize, pieceCount, pieceLength, pieceRange } from '../../../src/p2p/pieces/pieces.ts'
import { computePieceList, makePieceList, pieceMatches, PieceListStore } from '../../../src/p2p/pieces/piece-list.ts'
import { digestOf } from '../../../src/oci/digest.ts'

const MiB = 1024 * 1024

test('the default piece size is 1 MiB up to 1 GiB, then doubles, capped at 4 MiB', () => {
  assert.equal(choosePieceSize(0), MiB)
  assert.equal(choosePieceSize(10 * MiB), MiB)
  assert.equal(choosePieceSize(1024 * MiB), MiB)
  assert.equal(choosePieceSize(1024 * MiB + 1), 2 * MiB)
  assert.equal(choosePieceSize(2048 * MiB + 1), 4 * MiB)
  assert.equal(choosePieceSize(100 * 1024 * MiB), 4 * MiB)
})

test('piece sizes must be powers of two within 16 KiB..4 MiB', () => {
  for (const ok of [16 * 1024, 64 * 1024, MiB, 4 * MiB]) assert.equal(isValidPieceSize(ok), true, String(ok))
  for (const bad of [0, -1, 1000, 8 * 1024, 3 * MiB, 8 * MiB, 1.5, Number.NaN]) assert.equal(isValidPieceSize(bad), false, String(bad))
})

test('ranges cut the blob with a shorter last piece', () => {
  assert.equal(pieceCount(10, 4), 3)
  assert.deepEqual(pieceRange(2, 10, 4), { start: 8, end: 10 })
  assert.equal(pieceLength(0, 10, 4), 4)
  assert.equal(pieceLength(2, 10, 4), 2)
  assert.throws(() => pieceRange(3, 10, 4), RangeError)
  assert.throws(() => pieceRange(-1, 10, 4), RangeError)
})

test('piece lists: computed from a file, checked against size, matched per piece', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-pieces-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const data = randomBytes(3 * 16384 + 100)
  const path = join(dir, 'blob')
  await writeFile(path, data)
  const list = await computePieceList(path, data.byteLength, 16384)
  assert.equal(list.hashes.byteLength, 4 * 32)
  for (let i = 0; i < 4; i++) {
    const piece = data.subarray(i * 16384, (i + 1) * 16384)
    assert.deepEqual(Buffer.from(list.hashes.subarray(i * 32, i * 32 + 32)), createHash('sha256').update(piece).digest())
    assert.equal(pieceMatches(list, i, [piece.subarray(0, 10), piece.subarray(10)]), true)
  }
  assert.equal(pieceMatches(list, 0, [data.subarray(1, 16385)]), false)
  assert.equal(pieceMatches(list, 9, [data.subarray(0, 1)]), false)
  await assert.rejects(computePieceList(path, data.byteLength + 1, 16384), { name: 'InvalidPieceListError' })
  const digest = digestOf(data)
  assert.throws(() => makePieceList(digest, data.byteLength, 16384, list.hashes.subarray(32)), { name: 'InvalidPieceListError' })
  assert.throws(() => makePieceList(digest, data.byteLength, 1000, list.hashes), { name: 'InvalidPieceListError' })
  assert.throws(() => makePieceList(digest, 1e15, 16384, list.hashes), { name: 'InvalidPieceListError' })
})

test('the sidecar store keeps lists beside the blob and recomputes stale ones', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-sidecar-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const data = randomBytes(40000)
  const digest = digestOf(data)
  await writeFile(join(dir, 'blob'), data)
  const store = new PieceListStore(join(dir, 'pieces'), join(dir, 'tmp'))
  assert.equal(await store.get(digest, data.byteLength), undefined)
  const [a, b] = await Promise.all([
    store.forBlob(digest, join(dir, 'blob'), data.byteLength, 16384),
    store.forBlob(digest, join(dir, 'blob'), data.byteLength, 16384)
  ])
  assert.deepEqual(a, b)
  const stored = await store.get(digest, data.byteLength)
  assert.equal(stored?.pieceSize, 16384)
  assert.deepEqual(Buffer.from(stored?.hashes ?? []), Buffer.from(a.hashes))
  assert.equal(await store.get(digest, data.byteLength + 1), undefined, 'a list for another size is stale')
  await writeFile(store.path(digest), '{"garbage":')
  assert.equal(await store.get(digest, data.byteLength), undefined)
  await store.delete(digest)
  assert.equal(await store.get(digest, data.byteLength), undefined)
})
