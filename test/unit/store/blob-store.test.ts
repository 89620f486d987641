import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { collect, sha256, throttled } from '../../helpers/bytes.ts'
import { blobsOnDisk, listDir, tempStore } from '../../helpers/store.ts'
import type { Digest } from '../../../src/oci/digest.ts'

const DATA = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(1000))
const DIGEST = sha256(DATA)

/** The bytes in chunks of 1000, as a stream would deliver them. */
function chunks (data: Buffer = DATA, size = 1000): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < data.byteLength; i += size) out.push(data.subarray(i, i + size))
  return out
}

test('a verified write makes the blob visible under blobs/sha256 with exactly its bytes', async (t) => {
  const store = await tempStore(t)
  assert.equal(await store.blobs.has(DIGEST), false)
  const info = await store.blobs.write(DIGEST, Readable.from(chunks()), { size: DATA.byteLength })
  assert.deepEqual(info, { digest: DIGEST, size: DATA.byteLength })
  assert.deepEqual(await readFile(store.paths.blob(DIGEST)), DATA)
  assert.deepEqual(await store.blobs.stat(DIGEST), { digest: DIGEST, size: DATA.byteLength })
  assert.equal(await store.blobs.has(DIGEST), true)
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('accepts async generators and arrays of chunks, and reports progress', async (t) => {
  const store = await tempStore(t)
  const seen: number[] = []
  await store.blobs.write(DIGEST, throttled(chunks(), 0), { onProgress: n => seen.push(n) })
  assert.equal(seen.at(-1), DATA.byteLength)
  const other = Buffer.from('other')
  await store.blobs.write(sha256(other), [other])
  assert.deepEqual(await blobsOnDisk(store), [DIGEST, sha256(other)].sort())
})

test('content that hashes to another digest is refused: DigestMismatchError, no blob, no temp file', async (t) => {
  const store = await tempStore(t)
  const wrong = Buffer.from(DATA)
  wrong[500] = 0x21
  await assert.rejects(store.blobs.write(DIGEST, chunks(wrong), { size: DATA.byteLength }), (err: Error & { expected?: string, actual?: string }) => {
    assert.equal(err.name, 'DigestMismatchError')
    assert.equal(err.expected, DIGEST)
    assert.equal(err.actual, sha256(wrong))
    return true
  })
  assert.equal(await store.blobs.has(DIGEST), false)
  assert.equal(await store.blobs.has(sha256(wrong)), false)
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('more bytes than the size are refused as soon as they arrive', async (t) => {
  const store = await tempStore(t)
  let pulled = 0
  async function * source (): AsyncGenerator<Buffer> {
    for (const chunk of chunks()) {
      pulled++
      yield chunk
    }
  }
  await assert.rejects(store.blobs.write(DIGEST, source(), { size: 1500 }), { name: 'SizeMismatchError' })
  assert.ok(pulled < chunks().length, `read ${pulled} chunks of ${chunks().length}`)
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('fewer bytes than the size are refused even when the digest matches', async (t) => {
  const store = await tempStore(t)
  await assert.rejects(store.blobs.write(DIGEST, chunks(), { size: DATA.byteLength + 1 }), (err: Error & { expected?: number, actual?: number }) => {
    assert.equal(err.name, 'SizeMismatchError')
    assert.equal(err.expected, DATA.byteLength + 1)
    assert.equal(err.actual, DATA.byteLength)
    return true
  })
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('a source that fails midway leaves nothing behind', async (t) => {
  const store = await tempStore(t)
  async function * failing (): AsyncGenerator<Buffer> {
    yield DATA.subarray(0, 100)
    throw new Error('connection reset')
  }
  await assert.rejects(store.blobs.write(DIGEST, failing()), /connection reset/)
  const controller = new AbortController()
  const aborted = store.blobs.write(DIGEST, throttled(chunks(), 5), { signal: controller.signal })
  controller.abort()
  await assert.rejects(aborted, { name: 'AbortError' })
  assert.deepEqual(await blobsOnDisk(store), [])
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('writing a blob that is already present returns it without reading the source', async (t) => {
  const store = await tempStore(t)
  await store.blobs.write(DIGEST, chunks())
  let read = false
  async function * untouched (): AsyncGenerator<Buffer> {
    read = true
    yield Buffer.from('garbage')
  }
  assert.deepEqual(await store.blobs.write(DIGEST, untouched(), { size: DATA.byteLength }), { digest: DIGEST, size: DATA.byteLength })
  assert.equal(read, false)
  // ... but a size that contradicts the stored blob is an error.
  await assert.rejects(store.blobs.write(DIGEST, untouched(), { size: 3 }), { name: 'SizeMismatchError' })
  assert.deepEqual(await readFile(store.paths.blob(DIGEST)), DATA)
})

test('refuses invalid digests before touching the disk', async (t) => {
  const store = await tempStore(t)
  for (const digest of [`sha256:${'A'.repeat(64)}`, 'sha256:abc', 'sha256:../../../x', `sha256:${'a'.repeat(32)}/${'a'.repeat(31)}`]) {
    await assert.rejects(store.blobs.write(digest as Digest, [DATA]), { name: 'InvalidDigestError' }, digest)
    await assert.rejects(store.blobs.stat(digest as Digest), { name: 'InvalidDigestError' })
    await assert.rejects(store.blobs.delete(digest as Digest), { name: 'InvalidDigestError' })
  }
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('stores sha512 blobs under blobs/sha512', async (t) => {
  const store = await tempStore(t)
  const digest = `sha512:${createHash('sha512').update(DATA).digest('hex')}` as Digest
  await store.blobs.write(digest, chunks())
  assert.deepEqual(await listDir(`${store.paths.blobsDir}/sha512`), [digest.slice(7)])
  const listed: Digest[] = []
  for await (const d of store.blobs.list()) listed.push(d)
  assert.deepEqual(listed, [digest])
})

test('add stores content under the digest its bytes hash to', async (t) => {
  const store = await tempStore(t)
  assert.deepEqual(await store.blobs.add(chunks()), { digest: DIGEST, size: DATA.byteLength })
  assert.deepEqual(await store.blobs.add([DATA]), { digest: DIGEST, size: DATA.byteLength })
  assert.deepEqual(await blobsOnDisk(store), [DIGEST])
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('reads whole blobs and byte ranges (end exclusive)', async (t) => {
  const store = await tempStore(t)
  await store.blobs.write(DIGEST, chunks())
  assert.deepEqual(await store.blobs.readBytes(DIGEST), DATA)
  assert.deepEqual(await collect(await store.blobs.read(DIGEST)), DATA)
  assert.deepEqual(await collect(await store.blobs.read(DIGEST, { start: 10, end: 20 })), DATA.subarray(10, 20))
  assert.deepEqual(await collect(await store.blobs.read(DIGEST, { start: 43000 })), DATA.subarray(43000))
  assert.deepEqual(await collect(await store.blobs.read(DIGEST, { start: 0, end: DATA.byteLength })), DATA)
  assert.deepEqual(await collect(await store.blobs.read(DIGEST, { start: DATA.byteLength - 1 })), DATA.subarray(-1))
  assert.equal((await collect(await store.blobs.read(DIGEST, { start: 5, end: 5 }))).byteLength, 0)
  assert.equal((await collect(await store.blobs.read(DIGEST, { start: DATA.byteLength }))).byteLength, 0)
})

test('ranges outside the blob are InvalidRangeError', async (t) => {
  const store = await tempStore(t)
  await store.blobs.write(DIGEST, chunks())
  for (const range of [{ start: -1 }, { start: 0, end: DATA.byteLength + 1 }, { start: 20, end: 10 }, { start: DATA.byteLength + 1 }]) {
    await assert.rejects(store.blobs.read(DIGEST, range), { name: 'InvalidRangeError', code: 'RANGE_INVALID' }, JSON.stringify(range))
  }
})

test('reading or stat-ing a missing blob', async (t) => {
  const store = await tempStore(t)
  assert.equal(await store.blobs.stat(DIGEST), undefined)
  await assert.rejects(store.blobs.read(DIGEST), { name: 'BlobNotFoundError' })
  await assert.rejects(store.blobs.readBytes(DIGEST), { name: 'BlobNotFoundError' })
})

test('delete removes one blob and says whether it was there; list yields what is on disk', async (t) => {
  const store = await tempStore(t)
  const a = Buffer.from('a')
  const b = Buffer.from('b')
  await store.blobs.write(sha256(a), [a])
  await store.blobs.write(sha256(b), [b])
  // Stray files that are not blobs are not listed.
  await writeFile(`${store.paths.blobsDir}/sha256/not-a-digest`, 'x')
  const listed: string[] = []
  for await (const d of store.blobs.list()) listed.push(d)
  assert.deepEqual(listed, [sha256(a), sha256(b)].sort())
  assert.equal(await store.blobs.delete(sha256(a)), true)
  assert.equal(await store.blobs.delete(sha256(a)), false)
  assert.equal(await store.blobs.has(sha256(a)), false)
  assert.deepEqual(await blobsOnDisk(store), [sha256(b), 'sha256:not-a-digest'].sort())
})

test('a write under a lease records the digest in the lease file before the blob appears', async (t) => {
  const store = await tempStore(t)
  const lease = await store.createLease()
  await store.blobs.write(DIGEST, chunks(), { lease })
  assert.match(await readFile(lease.file, 'utf8'), new RegExp(`^${DIGEST}$`, 'm'))
  // An already-present blob is leased too: the writer relies on it staying until its ref is written.
  const lease2 = await store.createLease()
  await store.blobs.write(DIGEST, chunks(), { lease: lease2 })
  assert.match(await readFile(lease2.file, 'utf8'), new RegExp(DIGEST))
  await lease.release()
  await lease2.release()
  assert.deepEqual(await listDir(store.paths.leasesDir), [])
})

test('an empty blob can be written and read', async (t) => {
  const store = await tempStore(t)
  const empty = sha256('')
  assert.deepEqual(await store.blobs.write(empty, [], { size: 0 }), { digest: empty, size: 0 })
  assert.equal((await store.blobs.readBytes(empty)).byteLength, 0)
  assert.equal((await collect(await store.blobs.read(empty, { start: 0, end: 0 }))).byteLength, 0)
})

test('a write given the sha256 its caller took of the bytes does not hash them again, and that hash must be the digest', async (t) => {
  const store = await tempStore(t)
  const hex = DIGEST.slice('sha256:'.length)
  // The bytes are not hashed: a hash that names the digest is taken at its word (the caller computed it from them).
  assert.deepEqual(await store.blobs.write(DIGEST, chunks(), { size: DATA.byteLength, sha256: hex }), { digest: DIGEST, size: DATA.byteLength })
  assert.deepEqual(await readFile(store.paths.blob(DIGEST)), DATA)
  // A hash of other bytes is checked against the digest like a computed one: refused, nothing stored.
  const other = Buffer.from('other bytes')
  await assert.rejects(store.blobs.write(sha256(other), [other], { size: other.byteLength, sha256: hex }), { name: 'DigestMismatchError' })
  assert.equal(await store.blobs.has(sha256(other)), false)
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})
