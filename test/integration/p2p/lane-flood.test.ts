/**
 * A flood of TCP connections to the lane port that never finish their TLS handshake is refused at the door once
 * the lanes plus the allowed pending handshakes are taken, and the lane still serves an honest peer afterwards.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as tcpConnect, type Socket } from 'node:net'
import { MAX_LANES, MAX_PENDING_HANDSHAKES } from '../../../src/p2p/lane/index.ts'
import { connect, putBlob, randomBlob, startPeer } from './helpers.ts'

/** Opens a TCP connection and resolves once it is connected, with a promise of its close. */
async function rawConnection (port: number): Promise<{ socket: Socket, closed: Promise<void> }> {
  const socket = tcpConnect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = new Promise<void>(resolve => socket.once('close', () => { resolve() }))
  await new Promise<void>(resolve => { socket.once('connect', resolve) })
  return { socket, closed }
}

test('connections past the lanes and pending handshakes allowed are closed at once; honest peers still get lanes', async t => {
  const provider = await startPeer(t, { exchange: { pieceSize: 256 * 1024 } })
  const port = provider.p2p.exchange.lanes?.port
  assert.ok(port !== undefined)
  const held: Socket[] = []
  t.after(() => { for (const socket of held) socket.destroy() })
  // Fill every slot with connections that never speak TLS, and a few more.
  const extra = 8
  const closings: Array<Promise<void>> = []
  for (let i = 0; i < MAX_LANES + MAX_PENDING_HANDSHAKES + extra; i++) {
    const { socket, closed } = await rawConnection(port)
    held.push(socket)
    closings.push(closed)
  }
  // The server counts each refusal as it drops the connection; wait for that event, not for a time.
  const refused = (): number => provider.p2p.exchange.lanes?.refused ?? 0
  for (let wait = 0; wait < 500 && refused() < extra; wait++) await new Promise(resolve => setTimeout(resolve, 20))
  assert.equal(refused(), extra, 'exactly the connections past the limit were refused')
  await Promise.all(closings.slice(-extra))
  for (const socket of held) socket.destroy()
  await Promise.all(closings)

  const puller = await startPeer(t, { exchange: { pieceSize: 256 * 1024 } })
  const blob = randomBlob(1024 * 1024)
  await putBlob(provider.store, blob.bytes)
  await connect(puller, provider)
  await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.equal(puller.p2p.exchange.lanes?.counts.opened, 1, 'the honest peer got a lane once the flood ended')
})
