/**
 * Finding 6 of the hostile-peer review: a length prefix of ten 0xff bytes was held until the idle timeout. The
 * victim's idle timeout here is ten minutes; the test waits for the victim to close the stream (the event), so
 * on the old code it fails by the test timeout, and on the new one the ERROR and the close come at once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeResponse } from '../../../src/p2p/index.ts'
import { startPeer, until } from './helpers.ts'
import { closed, firstFrame, openConnection, openStream, startRawPeer } from './fixtures/raw-peer.ts'

test('a 10-byte 0xff length prefix is refused at once with an ERROR, long before the idle timeout', { timeout: 60_000 }, async t => {
  const victim = await startPeer(t, { exchange: { idleStreamTimeoutMs: 600_000 } })
  const attacker = await startRawPeer(t)
  const stream = await openStream(await openConnection(attacker, victim))
  const received: Buffer[] = []
  stream.addEventListener('message', event => { received.push(Buffer.from(event.data.subarray())) })
  stream.send(Buffer.alloc(10, 0xff))
  await closed(stream)
  // One ERROR frame, then the reset.
  const frame = decodeResponse(firstFrame(Buffer.concat(received)))
  assert.equal(frame.type, 'ERROR')
  assert.equal(frame.type === 'ERROR' && frame.code, 'BAD_REQUEST')
  assert.match(frame.type === 'ERROR' ? frame.message : '', /frame of \d+ bytes is over the 65536-byte limit/)
  await until(() => victim.p2p.exchange.inboundLoad().streams === 0)
})
