import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { PIECE, connect, putBlob, randomBlob, startPeer, type Peer } from './helpers.ts'
import { Bitfield } from '../../../src/p2p/index.ts'
import { PieceGate, startEvilPeer } from './fixtures/evil-peer.ts'

test('a pull is served by two providers at once, and both are counted', async t => {
  const [a, b, puller] = await Promise.all([startPeer(t), startPeer(t), startPeer(t)])
  const blob = randomBlob(3 * 1024 * 1024 + 12345)
  await putBlob(a.store, blob.bytes)
  await putBlob(b.store, blob.bytes)
  await connect(puller, a)
  await connect(puller, b)
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.equal(result.fetchedBytes, blob.bytes.byteLength)
  const aId = a.p2p.peerId.toString()
  const bId = b.p2p.peerId.toString()
  const me = puller.p2p.peerId.toString()
  assert.ok((result.fromPeers[aId] ?? 0) > 0, 'a served verified pieces')
  assert.ok((result.fromPeers[bId] ?? 0) > 0, 'b served verified pieces')
  assert.equal((result.fromPeers[aId] ?? 0) + (result.fromPeers[bId] ?? 0), blob.bytes.byteLength)
  // Served counts what left each provider (an endgame duplicate may be cut off on the way).
  assert.ok((a.p2p.counters().served[me] ?? 0) >= (result.fromPeers[aId] ?? 0))
  assert.ok((b.p2p.counters().served[me] ?? 0) >= (result.fromPeers[bId] ?? 0))
  assert.equal(puller.p2p.counters().receivedTotal >= blob.bytes.byteLength, true)
  // The puller now serves the blob itself, with the piece list it was given kept beside it.
  const have = await a.p2p.exchange.client.have(puller.p2p.peerId, blob.digest)
  assert.deepEqual(have.have && { complete: have.complete, size: have.size }, { complete: true, size: blob.bytes.byteLength })
  assert.notEqual(await puller.p2p.exchange.holdings.pieceLists.get(blob.digest, blob.bytes.byteLength), undefined)
})

/**
 * A downloader kept partial: its only seed lets one piece out and holds the others until the test opens its
 * gate again; an asker connected to the downloader. Returns once the downloader has verified its first piece.
 */
async function partialDownloader (t: TestContext): Promise<{ blob: ReturnType<typeof randomBlob>, gate: PieceGate, downloader: Peer, asker: Peer, controller: AbortController, pulling: Promise<unknown> }> {
  const blob = randomBlob(2 * 1024 * 1024)
  const gate = new PieceGate()
  const seed = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: false, honest: true, gate })
  const [downloader, asker] = await Promise.all([startPeer(t, { exchange: { pieceTimeoutMs: 60_000 } }), startPeer(t)])
  await downloader.p2p.dial(String(seed.node.getMultiaddrs()[0]))
  await connect(asker, downloader)
  const controller = new AbortController()
  const gotOne = Promise.withResolvers<void>()
  const pulling = downloader.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, {
    signal: controller.signal,
    providers: [seed.node.peerId],
    onPiece: () => { gotOne.resolve() }
  }).catch(err => err)
  gate.allow(1)
  await gotOne.promise
  return { blob, gate, downloader, asker, controller, pulling }
}

test('a partial holder answers HAVE with its verified pieces, serves them, and says NOT_HAVE for the rest', async t => {
  const { blob, downloader, asker, controller, pulling } = await partialDownloader(t)
  const have = await asker.p2p.exchange.client.have(downloader.p2p.peerId, blob.digest)
  assert.ok(have.have && !have.complete && have.verified instanceof Bitfield)
  const verified = have.have ? have.verified as Bitfield : new Bitfield(0)
  assert.equal(verified.count(), 1)
  const index = verified.indices().next().value as number
  const got = await asker.p2p.exchange.client.getPiece(downloader.p2p.peerId, { digest: blob.digest, size: blob.bytes.byteLength, pieceSize: PIECE, index })
  assert.deepEqual(Buffer.concat([...got.data]), blob.bytes.subarray(index * PIECE, (index + 1) * PIECE))
  const missing = [...Array(verified.length).keys()].find(i => !verified.has(i)) as number
  await assert.rejects(
    asker.p2p.exchange.client.getPiece(downloader.p2p.peerId, { digest: blob.digest, size: blob.bytes.byteLength, pieceSize: PIECE, index: missing }),
    { name: 'NotHaveError' }
  )
  controller.abort(new Error('test done'))
  assert.ok((await pulling) instanceof Error)
})

test('an empty blob and a blob the store already has need no transfer', async t => {
  const [a, puller] = await Promise.all([startPeer(t), startPeer(t)])
  const empty = randomBlob(0)
  const present = randomBlob(1000)
  await putBlob(puller.store, present.bytes)
  await connect(puller, a)
  assert.equal((await puller.p2p.pullBlob({ digest: empty.digest, size: 0 })).size, 0)
  assert.equal(await puller.store.blobs.has(empty.digest), true)
  assert.equal((await puller.p2p.pullBlob({ digest: present.digest, size: 1000 })).alreadyPresent, true)
})

test('a blob nobody has fails with NoProvidersError', async t => {
  const [a, puller] = await Promise.all([startPeer(t), startPeer(t, { puller: { noProvidersTimeoutMs: 500 } })])
  await connect(puller, a)
  await assert.rejects(puller.p2p.pullBlob({ digest: randomBlob(10).digest, size: 10 }), { name: 'NoProvidersError' })
})

test('a waiting HAVE is answered once the partial holder verifies a piece beyond what the asker knew', async t => {
  const { blob, gate, downloader, asker, controller, pulling } = await partialDownloader(t)
  const now = await asker.p2p.exchange.client.have(downloader.p2p.peerId, blob.digest)
  const known = now.have && now.verified !== undefined ? now.verified : new Bitfield(0)
  assert.equal(known.count(), 1)
  // The asker waits; the seed lets one more piece out; the downloader verifies it, and the wait is answered.
  const waiting = asker.p2p.exchange.client.have(downloader.p2p.peerId, blob.digest, { known, waitMs: 10_000 })
  gate.allow(1)
  const later = await waiting
  assert.ok(later.have)
  const news = later.have && (later.complete || [...(later.verified?.indices() ?? [])].some(i => !known.has(i)))
  assert.ok(news, 'the answer names a piece the asker did not know of')
  controller.abort(new Error('test done'))
  await pulling
})

test('offered other pieces, a complete holder sends the one it sent least', async t => {
  const [seed, asker] = await Promise.all([startPeer(t), startPeer(t)])
  const blob = randomBlob(4 * PIECE)
  await putBlob(seed.store, blob.bytes)
  await connect(asker, seed)
  const want = Bitfield.full(4)
  const piece = { digest: blob.digest, size: blob.bytes.byteLength, pieceSize: PIECE, index: 0 }
  const first = await asker.p2p.exchange.client.getPiece(seed.p2p.peerId, piece, { want })
  assert.equal(first.index, 0, 'nothing went out yet: the piece asked for')
  const second = await asker.p2p.exchange.client.getPiece(seed.p2p.peerId, piece, { want })
  assert.notEqual(second.index, 0, 'piece 0 went out already: another one')
  assert.deepEqual(Buffer.concat([...second.data]), blob.bytes.subarray(second.index * PIECE, (second.index + 1) * PIECE))
  // Asked for piece 0 alone (1.0), the holder defers it once (it went out, others did not), then sends it.
  await assert.rejects(asker.p2p.exchange.client.getPiece(seed.p2p.peerId, piece), { name: 'PieceDeferredError' })
  assert.equal((await asker.p2p.exchange.client.getPiece(seed.p2p.peerId, piece)).index, 0)
})
