import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, putBlob, randomBlob, startPeer } from './helpers.ts'

test('provide and findProviders work between loopback nodes two hops apart, and the holder serves the pull', async t => {
  const [holder, middle, puller] = await Promise.all([startPeer(t), startPeer(t), startPeer(t)])
  const blob = randomBlob(300_000)
  await putBlob(holder.store, blob.bytes)
  await connect(holder, middle)
  await connect(puller, middle)
  assert.equal(await holder.p2p.announceAll(), 1)
  // announceAll is fire-and-forget; awaiting a provide makes sure the record is out.
  await holder.p2p.dht.provide(blob.digest)
  const providers = []
  for await (const peer of puller.p2p.dht.findProviders(blob.digest, { signal: AbortSignal.timeout(5_000) })) {
    providers.push(peer.toString())
    break
  }
  assert.deepEqual(providers, [holder.p2p.peerId.toString()], 'the DHT alone names the holder')
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.equal(result.fromPeers[holder.p2p.peerId.toString()], blob.bytes.byteLength)
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
})

test('a removed blob is withdrawn and its piece list dropped', async t => {
  const [holder, asker] = await Promise.all([startPeer(t), startPeer(t)])
  const blob = randomBlob(100_000)
  await putBlob(holder.store, blob.bytes)
  await connect(asker, holder)
  await asker.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.notEqual(await asker.p2p.exchange.holdings.pieceLists.get(blob.digest, blob.bytes.byteLength), undefined)
  assert.ok(asker.p2p.dht.digests.includes(blob.digest), 'a pulled blob is announced')
  await asker.store.blobs.delete(blob.digest)
  await asker.p2p.blobRemoved(blob.digest)
  assert.equal(asker.p2p.dht.digests.includes(blob.digest), false)
  assert.equal(await asker.p2p.exchange.holdings.pieceLists.get(blob.digest, blob.bytes.byteLength), undefined)
  const have = await holder.p2p.exchange.client.have(asker.p2p.peerId, blob.digest)
  assert.equal(have.have, false)
})
