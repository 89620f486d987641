import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '../../../src/p2p/index.ts'
import { LaneConnection, makeLaneCredentials, requestOffer, type Lanes } from '../../../src/p2p/lane/index.ts'
import { connect, putBlob, randomBlob, startPeer, type Peer } from './helpers.ts'
import { blackHole, closedPort, impostor, manInTheMiddle, offerPort, pullPastRottenHolder, stalledLane, strangerCredentials } from './fixtures/lane-impostors.ts'

const OPEN = { credentials: undefined, timeoutMs: 3_000, idleMs: 10_000 }

function lanes (peer: Peer): Lanes {
  const l = peer.p2p.exchange.lanes
  if (l === undefined) throw new Error('lanes are off')
  return l
}

async function pull (puller: Peer, blob: { digest: ReturnType<typeof randomBlob>['digest'], bytes: Buffer }): Promise<void> {
  await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
}

test('pieces move over the lane, which proves the peer of the libp2p connection', async t => {
  const [provider, puller] = await Promise.all([startPeer(t), startPeer(t)])
  const blob = randomBlob(2 * 1024 * 1024)
  await putBlob(provider.store, blob.bytes)
  await connect(puller, provider)
  await pull(puller, blob)
  assert.equal(lanes(puller).counts.opened, 1)
  assert.equal(lanes(puller).counts.bytes, blob.bytes.byteLength, 'every piece came over the lane')
  assert.equal(lanes(provider).served(puller.p2p.peerId.toString()), 1)
  assert.equal(provider.p2p.counters().servedTotal, blob.bytes.byteLength, 'the stream server counted the lane uploads')
})

test('a lane whose certificate names another peer than the libp2p connection is refused; the pull uses streams', async t => {
  const [provider, puller] = await Promise.all([startPeer(t), startPeer(t)])
  const blob = randomBlob(1024 * 1024)
  await putBlob(provider.store, blob.bytes)
  const other = await strangerCredentials()
  const fake = await impostor(t, other.credentials)
  await offerPort(provider, fake.port)
  await connect(puller, provider)
  await assert.rejects(lanes(puller).open(provider.p2p.peerId), (err: Error) => err.name === 'LaneIdentityError' && err.message.includes(other.id))
  await pull(puller, blob)
  assert.equal(lanes(puller).counts.opened, 0)
  assert.equal(lanes(puller).counts.bytes, 0)
  assert.equal(fake.spoken(), 0, 'not a byte of the lane protocol (no ticket) went to the impostor')
})

test('the server refuses a ticket shown with another peer\'s certificate, and a ticket it never issued', async t => {
  const [provider, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await connect(puller, provider)
  const id = provider.p2p.peerId
  const connections = (): ReturnType<typeof puller.p2p.node.getConnections> => puller.p2p.node.getConnections(id)
  const stolen = await requestOffer(connections(), id, 3_000)
  const other = await strangerCredentials()
  await assert.rejects(LaneConnection.open({ ...OPEN, offer: stolen, peer: id.toString(), credentials: other.credentials }), { name: 'LaneRefusedError' })

  const own = await makeLaneCredentials(await loadOrCreateIdentity(join(puller.dir, 'p2p')))
  const forged = { ...stolen, ticket: randomBytes(32) }
  await assert.rejects(LaneConnection.open({ ...OPEN, offer: forged, peer: id.toString(), credentials: own }), { name: 'LaneRefusedError' })
  const lane = await LaneConnection.open({ ...OPEN, offer: await requestOffer(connections(), id, 3_000), peer: id.toString(), credentials: own })
  assert.equal(lane.isOpen, true, 'the right peer with its own ticket gets the lane')
  lane.close()
})

test('a man in the middle that re-terminates TLS with its own key is refused; the pull uses streams', async t => {
  const [provider, puller] = await Promise.all([startPeer(t), startPeer(t)])
  const blob = randomBlob(1024 * 1024)
  await putBlob(provider.store, blob.bytes)
  const realPort = lanes(provider).port as number
  const mitm = await manInTheMiddle(t, (await strangerCredentials()).credentials, realPort)
  await offerPort(provider, mitm.port)
  await connect(puller, provider)
  await assert.rejects(lanes(puller).open(provider.p2p.peerId), { name: 'LaneIdentityError' })
  await pull(puller, blob)
  assert.equal(lanes(puller).counts.bytes, 0)
  assert.equal(mitm.relayed(), 0, 'the puller sent nothing through the proxy')
})

test('with the lane port closed, silent, or lanes off at the provider, the pull completes over libp2p streams', async t => {
  const blob = randomBlob(1024 * 1024)
  const closed = await startPeer(t)
  await offerPort(closed, await closedPort())
  const silent = await startPeer(t)
  await offerPort(silent, await blackHole(t))
  const off = await startPeer(t, { exchange: { lanes: { enabled: false } } })
  assert.equal(off.p2p.exchange.lanes, undefined)
  for (const provider of [closed, silent, off]) {
    await putBlob(provider.store, blob.bytes)
    const puller = await startPeer(t, { exchange: { lanes: { openTimeoutMs: 1_000 } } })
    await connect(puller, provider)
    await pull(puller, blob)
    assert.equal(lanes(puller).counts.opened, 0)
    assert.equal(lanes(puller).counts.failed, 1, 'one attempt, then streams for the retry period')
    assert.equal(puller.p2p.counters().receivedTotal, blob.bytes.byteLength)
  }
})

test('the allow-list refuses a stranger\'s lane', async t => {
  const stranger = await strangerCredentials()
  const [a, b] = await Promise.all([startPeer(t), startPeer(t)])
  // Allow-lists name peer ids, so the members are restarted on their directories with the list.
  const allowList = [a.p2p.peerId.toString(), b.p2p.peerId.toString()]
  await Promise.all([a.p2p.stop(), b.p2p.stop()])
  const [ma, mb] = await Promise.all([startPeer(t, { dir: a.dir, allowList }), startPeer(t, { dir: b.dir, allowList })])
  const blob = randomBlob(1024 * 1024)
  await putBlob(ma.store, blob.bytes)
  await connect(mb, ma)
  const offer = await requestOffer(mb.p2p.node.getConnections(ma.p2p.peerId), ma.p2p.peerId, 3_000)
  await assert.rejects(
    LaneConnection.open({ ...OPEN, offer, peer: ma.p2p.peerId.toString(), credentials: stranger.credentials }),
    (err: Error) => err.name === 'LaneRefusedError' && /not allowed/.test(err.message)
  )
  await pull(mb, blob)
  assert.equal(lanes(mb).counts.bytes, blob.bytes.byteLength, 'members use the lane')
})

test('a corrupt piece served over a lane gets the provider banned, and the blob comes from another', async t => {
  const { bad, puller } = await pullPastRottenHolder(t, randomBlob(2 * 1024 * 1024))
  assert.ok(bad.p2p.counters().servedTotal > 0, 'the rotten holder was asked')
  assert.equal(lanes(bad).served(puller.p2p.peerId.toString()), 1, 'and answered on its lane')
})

test('a lane that goes away mid-pull drops to streams and the pull completes', async t => {
  const provider = await startPeer(t, { uploadRate: 2 * 1024 * 1024 })
  const puller = await startPeer(t)
  const blob = randomBlob(3 * 1024 * 1024)
  await putBlob(provider.store, blob.bytes)
  await connect(puller, provider)
  let got = 0
  let stopped: Promise<void> | undefined
  await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, {
    onPiece: (_peer, bytes) => {
      got += bytes
      if (got >= 512 * 1024) stopped ??= lanes(provider).stop()
    }
  })
  await stopped
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.ok(lanes(puller).counts.bytes >= 512 * 1024, `${lanes(puller).counts.bytes} bytes came over the lane`)
  assert.ok(lanes(puller).counts.bytes < blob.bytes.byteLength, 'the rest came over streams')
  assert.equal(puller.p2p.puller.bans.isBanned(provider.p2p.peerId.toString()), false)
})

test('a lane that stalls after it opened is dropped, and the pull completes over streams', async t => {
  const [provider, puller] = await Promise.all([startPeer(t), startPeer(t)])
  const blob = randomBlob(1024 * 1024)
  await putBlob(provider.store, blob.bytes)
  // The provider's own certificate, so the lane passes every identity check and then answers nothing.
  const credentials = await makeLaneCredentials(await loadOrCreateIdentity(join(provider.dir, 'p2p')))
  await offerPort(provider, await stalledLane(t, credentials))
  await connect(puller, provider)
  await pull(puller, blob)
  assert.equal(lanes(puller).counts.opened, 1, 'the lane opened')
  assert.equal(lanes(puller).counts.bytes, 0, 'and carried nothing')
  assert.ok(puller.p2p.counters().receivedTotal >= blob.bytes.byteLength, 'the pieces came over streams')
  assert.equal(puller.p2p.puller.bans.isBanned(provider.p2p.peerId.toString()), false, 'a stall is not a ban')
})
