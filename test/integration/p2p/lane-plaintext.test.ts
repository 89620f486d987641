import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { Lanes } from '../../../src/p2p/lane/index.ts'
import { PIECE, connect, putBlob, randomBlob, startPeer, type Peer } from './helpers.ts'
import { pullPastRottenHolder, tamperingProxy } from './fixtures/lane-impostors.ts'

function lanes (peer: Peer): Lanes {
  const l = peer.p2p.exchange.lanes
  if (l === undefined) throw new Error('lanes are off')
  return l
}

const plaintext = (on: boolean): { exchange: { lanes: { plaintext: boolean } } } => ({ exchange: { lanes: { plaintext: on } } })

test('a plaintext lane is used only when both peers opt in; otherwise the lane is TLS', async t => {
  const blob = randomBlob(8 * PIECE)
  for (const [pullerOpts, providerOpts] of [[true, true], [true, false], [false, true]] as const) {
    const [provider, puller] = await Promise.all([startPeer(t, plaintext(providerOpts)), startPeer(t, plaintext(pullerOpts))])
    await putBlob(provider.store, blob.bytes)
    await connect(puller, provider)
    await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
    assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
    const both = pullerOpts && providerOpts
    assert.equal(lanes(puller).counts.opened, 1, `puller ${pullerOpts}, provider ${providerOpts}: one lane`)
    assert.equal(lanes(puller).counts.plaintext, both ? 1 : 0, `puller ${pullerOpts}, provider ${providerOpts}: plaintext only if both opted in`)
    assert.equal(lanes(puller).counts.bytes, blob.bytes.byteLength, 'every piece came over the lane')
  }
})

async function pullThroughProxy (t: TestContext, flipAt: number): Promise<void> {
  const proxy = await tamperingProxy(t, flipAt)
  // The provider's offers name the proxy's port, so the puller's lane runs through it.
  const provider = await startPeer(t, { exchange: { lanes: { plaintext: true, advertisePort: proxy.port } } })
  proxy.target(lanes(provider).port as number)
  const puller = await startPeer(t, plaintext(true))
  const blob = randomBlob(16 * PIECE)
  await putBlob(provider.store, blob.bytes)
  await connect(puller, provider)
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  const id = provider.p2p.peerId.toString()
  assert.equal(proxy.flipped(), 1, 'the proxy changed a byte')
  assert.deepEqual(puller.p2p.puller.bans.entries(), {}, 'the honest provider is not banned')
  assert.equal(result.fromPeers[id], blob.bytes.byteLength, 'every piece came from it')
  assert.equal(lanes(puller).counts.tampered, 1, 'the plaintext lane is distrusted')
  assert.equal(lanes(puller).counts.plaintext, 1, 'and not opened again to that peer')
}

test('a byte changed in a piece on a plaintext lane gets no one banned: the piece comes again over an authenticated path, then TLS lanes', async t => {
  await pullThroughProxy(t, 4096)
})

test('garbage on a plaintext lane (a frame kind changed on the way) gets no one banned either', async t => {
  // Byte 13 is the kind of the first answer, right after the 13-byte READY frame.
  await pullThroughProxy(t, 13)
})

test('a peer whose bytes are bad on a plaintext lane and over an authenticated path too is banned', async t => {
  const { puller } = await pullPastRottenHolder(t, randomBlob(8 * PIECE), plaintext(true))
  assert.equal(lanes(puller).counts.tampered, 0, 'the path was not to blame: the bytes were bad over an authenticated path too')
  assert.ok(lanes(puller).counts.plaintext >= 1, 'the bad bytes came over a plaintext lane first')
})
