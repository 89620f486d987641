/**
 * Guards of the puller that no other test would miss if they were removed: the ban of a peer that reports a
 * wrong size for a blob of known size, the size cap for a blob pulled without a size, and a shared transfer
 * that outlives the caller that started it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PIECE, connect, putBlob, randomBlob, startPeer } from './helpers.ts'
import { startEvilPeer } from './fixtures/evil-peer.ts'

test('a peer that reports another size for a blob of known size is banned, and the blob comes from the others', async t => {
  const blob = randomBlob(16 * PIECE)
  const [honest, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(honest.store, blob.bytes)
  const liar = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: false, reportSize: blob.bytes.byteLength + PIECE })
  await connect(puller, honest)
  await puller.p2p.dial(String(liar.node.getMultiaddrs()[0]))
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [liar.node.peerId] })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.match(puller.p2p.puller.bans.entries()[liar.node.peerId.toString()] ?? '', /reports \d+ bytes for a \d+-byte blob/)
  assert.equal(result.fromPeers[liar.node.peerId.toString()], undefined)
})

test('a blob pulled without a size is refused when its holders report more than the cap', async t => {
  const blob = randomBlob(4 * PIECE)
  const [seed, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(seed.store, blob.bytes)
  await connect(puller, seed)
  await assert.rejects(puller.p2p.pullBlob({ digest: blob.digest }, { maxSize: 4 * PIECE - 1 }), (err: Error) => {
    assert.equal(err.name, 'BlobTooLargeError')
    assert.match(err.message, new RegExp(`${4 * PIECE} bytes, over the ${4 * PIECE - 1}-byte limit`))
    return true
  })
  assert.equal(await puller.store.blobs.has(blob.digest), false)
  assert.equal((await puller.p2p.pullBlob({ digest: blob.digest }, { maxSize: 4 * PIECE })).size, 4 * PIECE)
})

test('cancelling one pull of a blob does not abort another pull waiting for the same blob', async t => {
  const blob = randomBlob(32 * PIECE)
  const [seed, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(seed.store, blob.bytes)
  await connect(puller, seed)
  const first = new AbortController()
  const lease = await puller.store.createLease()
  t.after(async () => { await lease.release() })
  const descriptor = { digest: blob.digest, size: blob.bytes.byteLength }
  // The first caller starts the transfer and gives up at its first piece; the second joined it before.
  const cancelled = puller.p2p.pullBlob(descriptor, { signal: first.signal, onPiece: () => { first.abort(new Error('the first caller gave up')) } })
  const kept = puller.p2p.pullBlob(descriptor, { lease })
  await assert.rejects(cancelled, /the first caller gave up/)
  const result = await kept
  assert.equal(result.digest, blob.digest)
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
})

test('when every caller has given up, the transfer stops, and a later pull starts afresh', async t => {
  const blob = randomBlob(32 * PIECE)
  const [seed, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(seed.store, blob.bytes)
  await connect(puller, seed)
  const descriptor = { digest: blob.digest, size: blob.bytes.byteLength }
  const callers = [new AbortController(), new AbortController()]
  const pulls = callers.map(c => puller.p2p.pullBlob(descriptor, { signal: c.signal, onPiece: () => { for (const x of callers) x.abort(new Error('gave up')) } }))
  for (const pull of pulls) await assert.rejects(pull, /gave up/)
  const again = await puller.p2p.pullBlob(descriptor)
  assert.equal(again.alreadyPresent, false)
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
})
