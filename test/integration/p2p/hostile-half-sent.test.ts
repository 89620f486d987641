/**
 * Finding 2 of the hostile-peer review: requests announced as 4 MiB and left one byte short, on 64 streams of
 * each of 3 connections, pinned half a GiB in the victim. Requests are control frames now (64 KiB at most, the
 * prefix refused at once beyond), a served stream holds one request at most, and inbound streams are capped per
 * peer: what one peer can make the victim hold is bounded, the victim keeps serving others, and the memory
 * comes back when the attacker goes. Measured in-process: the bytes the victim's served streams hold.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import { MAX_CONNECTIONS_PER_PEER, MAX_CONTROL_FRAME, MAX_DATA_FRAME, MAX_INBOUND_STREAMS_PER_PEER, MAX_REQUEST_BUFFER } from '../../../src/p2p/index.ts'
import { connect, putBlob, randomBlob, startPeer, until, type Peer } from './helpers.ts'
import { closed, openConnection, openStream, startRawPeer, varint } from './fixtures/raw-peer.ts'

const CONNECTIONS = 3
const STREAMS = 64
/** All one peer's served streams may hold. */
const BOUND = MAX_INBOUND_STREAMS_PER_PEER * MAX_REQUEST_BUFFER

/** Opens STREAMS streams on each of CONNECTIONS connections and writes `bytes` on each. */
async function flood (attacker: Awaited<ReturnType<typeof startRawPeer>>, victim: Peer, bytes: Buffer): Promise<Stream[]> {
  const streams: Stream[] = []
  for (let c = 0; c < CONNECTIONS; c++) {
    const connection = await openConnection(attacker, victim)
    for (let s = 0; s < STREAMS; s++) {
      // The victim may reset a stream over its limits before a byte is sent: that is the refusal too.
      const stream = await openStream(connection).catch(() => undefined)
      if (stream === undefined) continue
      streams.push(stream)
      if (stream.status === 'open') stream.send(bytes)
    }
  }
  return streams
}

async function honestPull (victim: Peer, t: Parameters<typeof startPeer>[0]): Promise<void> {
  const honest = await startPeer(t)
  const blob = randomBlob(300_000)
  await putBlob(victim.store, blob.bytes)
  await connect(honest, victim)
  await honest.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.equal(await honest.store.blobs.has(blob.digest), true)
  // Its pooled streams to the victim would otherwise stay open (and counted) for a while.
  await honest.p2p.stop()
}

test('half-sent 4 MiB requests on many streams are refused at their length prefix, and honest peers are served', { timeout: 120_000 }, async t => {
  const victim = await startPeer(t)
  const attacker = await startRawPeer(t)
  // The prefix announces a whole data frame; 256 KiB of it follow (the old server buffered them all).
  const streams = await flood(attacker, victim, Buffer.concat([varint(MAX_DATA_FRAME), Buffer.alloc(256 * 1024, 1)]))
  const refused = (): number => streams.filter(s => s.status !== 'open').length
  await until(() => refused() === streams.length || victim.p2p.exchange.inboundLoad().bufferedBytes > BOUND)
  assert.ok(victim.p2p.exchange.inboundLoad().bufferedBytes <= BOUND, `the victim holds ${victim.p2p.exchange.inboundLoad().bufferedBytes} bytes`)
  await Promise.all(streams.map(closed))
  await honestPull(victim, t)
  await until(() => victim.p2p.exchange.inboundLoad().streams === 0)
})

test('requests just under the control limit, stalled one byte short: one peer holds at most its streams\' share, and it is freed when the peer goes', { timeout: 120_000 }, async t => {
  const victim = await startPeer(t)
  const attacker = await startRawPeer(t)
  const length = MAX_CONTROL_FRAME - 16
  const streams = await flood(attacker, victim, Buffer.concat([varint(length), Buffer.alloc(length - 1, 0x20)]))
  const held = (): number => victim.p2p.exchange.inboundLoad().bufferedBytes
  const full = MAX_INBOUND_STREAMS_PER_PEER * (varint(length).length + length - 1)
  // Either the victim holds the per-peer share in full (the rest reset), or it went past the bound.
  await until(() => held() >= full || held() > BOUND)
  assert.ok(held() <= BOUND, `the victim holds ${held()} bytes, over ${BOUND}`)
  assert.equal(victim.p2p.exchange.inboundLoad().streams, MAX_INBOUND_STREAMS_PER_PEER)
  await until(() => streams.filter(s => s.status !== 'open').length === streams.length - MAX_INBOUND_STREAMS_PER_PEER)
  await honestPull(victim, t)
  await attacker.stop()
  await until(() => victim.p2p.exchange.inboundLoad().streams === 0)
  assert.equal(victim.p2p.exchange.inboundLoad().bufferedBytes, 0)
})

test('a peer gets at most MAX_CONNECTIONS_PER_PEER connections to a node; the next is closed by the node', { timeout: 60_000 }, async t => {
  const victim = await startPeer(t)
  const attacker = await startRawPeer(t)
  for (let i = 0; i < MAX_CONNECTIONS_PER_PEER; i++) await openConnection(attacker, victim)
  await until(() => victim.p2p.node.getConnections(attacker.peerId).length === MAX_CONNECTIONS_PER_PEER)
  const extra = await openConnection(attacker, victim).catch(() => undefined)
  // Refused after the handshake: the dial may complete on the attacker's side, but the victim closes it.
  if (extra !== undefined) await until(() => extra.status !== 'open')
  assert.equal(victim.p2p.node.getConnections(attacker.peerId).length, MAX_CONNECTIONS_PER_PEER)
})
