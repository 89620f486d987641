/**
 * Blobs of a batch (a Nix closure's NARs) fetched whole, in one GET each, from the peers the caller names
 * (`direct`, src/p2p/pulling/direct-pull.ts): no HAVE, no piece list, no routing, and every byte still checked against
 * the digest, with the same ban for a peer that serves bad bytes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PIECE, connect, putBlob, randomBlob, startPeer } from './helpers.ts'
import { startEvilPeer } from './fixtures/evil-peer.ts'

test('a direct pull fetches a multi-piece blob whole from the named holder: no piece list is asked for', async t => {
  const blob = randomBlob(5 * PIECE + 1234)
  const [holder, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(holder.store, blob.bytes)
  await connect(puller, holder)
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [holder.p2p.peerId], direct: true })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.deepEqual(result.fromPeers, { [holder.p2p.peerId.toString()]: blob.bytes.byteLength })
  // A pull through HAVE and PIECES makes the holder compute and keep its piece list; one GET of the whole blob does not.
  assert.equal(await holder.p2p.exchange.holdings.pieceLists.get(blob.digest, blob.bytes.byteLength), undefined)
  assert.equal(holder.p2p.exchange.lanes?.served(puller.p2p.peerId.toString()), 1, 'the bytes came over the data lane')
})

test('a direct pull from a holder that serves bad bytes bans it, stores nothing of it, and gets the blob elsewhere', async t => {
  const blob = randomBlob(3 * PIECE + 99)
  const [honest, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(honest.store, blob.bytes)
  // The liar has no data lane: its bytes come over a libp2p stream and are hashed on their way into the store.
  const liar = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: false })
  await puller.p2p.dial(String(liar.node.getMultiaddrs()[0]))
  await connect(puller, honest)
  const liarId = liar.node.peerId.toString()
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [liar.node.peerId], direct: true })
  assert.ok(liar.served() > 0, 'the liar was asked for the whole blob')
  assert.match(puller.p2p.puller.bans.entries()[liarId] ?? '', /fails its digest/)
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.equal(result.fromPeers[liarId], undefined)
  assert.equal(result.fromPeers[honest.p2p.peerId.toString()], blob.bytes.byteLength)
})

test('a banned peer is not asked again, and a blob too large for one GET takes the full path', async t => {
  const small = randomBlob(2 * PIECE)
  const large = randomBlob(4 * 1024 * 1024 + 1)
  const [honest, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(honest.store, small.bytes)
  await putBlob(honest.store, large.bytes)
  const liar = await startEvilPeer(t, small.bytes, small.digest, PIECE, { lyingList: false })
  await puller.p2p.dial(String(liar.node.getMultiaddrs()[0]))
  await connect(puller, honest)
  const providers = [liar.node.peerId, honest.p2p.peerId]
  puller.p2p.puller.bans.ban(liar.node.peerId.toString(), 'banned by the test')
  await puller.p2p.pullBlob({ digest: small.digest, size: small.bytes.byteLength }, { providers, direct: true })
  assert.equal(liar.served(), 0)
  const result = await puller.p2p.pullBlob({ digest: large.digest, size: large.bytes.byteLength }, { providers: [honest.p2p.peerId], direct: true })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(large.digest)), large.bytes)
  assert.equal(result.fromPeers[honest.p2p.peerId.toString()], large.bytes.byteLength)
  // The full path agreed on a piece list with the holder, which a whole GET never needs.
  assert.notEqual(await honest.p2p.exchange.holdings.pieceLists.get(large.digest, large.bytes.byteLength), undefined)
})
