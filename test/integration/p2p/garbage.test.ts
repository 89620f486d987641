import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { BLOB_PROTOCOL, decodeResponse } from '../../../src/p2p/index.ts'
import { connect, putBlob, randomBlob, startPeer } from './helpers.ts'

test('the server answers garbage with one ERROR and closes the stream', async t => {
  const [server, client] = await Promise.all([startPeer(t), startPeer(t)])
  await connect(client, server)
  const held = await putBlob(server.store, randomBlob(20 * 65536).bytes)
  const cases: Array<[Uint8Array, string]> = [
    [Buffer.from('not json at all'), 'BAD_REQUEST'],
    [Buffer.from(JSON.stringify({ type: 'FORMAT_DISK' })), 'UNKNOWN_MESSAGE'],
    [Buffer.from(JSON.stringify({ type: 'GET', digest: 'sha256:../../etc/passwd', index: 0, pieceSize: 65536 })), 'BAD_REQUEST'],
    // A `want` bitfield that cannot describe the blob's 20 pieces.
    [Buffer.from(JSON.stringify({ type: 'GET', digest: held.digest, index: 0, pieceSize: 65536, want: 'gA==' })), 'BAD_REQUEST']
  ]
  for (const [frame, code] of cases) {
    const stream = await client.p2p.node.dialProtocol(server.p2p.peerId, BLOB_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(frame)
    const answer = decodeResponse((await lp.read()).subarray())
    assert.equal(answer.type, 'ERROR')
    assert.equal(answer.type === 'ERROR' && answer.code, code)
    // No timeout on this read: only the server ending the stream settles it (a hang fails by the test timeout).
    await assert.rejects(lp.read(), { name: 'UnexpectedEOFError' }, 'the server ends the stream after garbage')
    assert.notEqual(stream.status, 'open')
  }
})

test('a peer answering garbage gives the client a typed protocol error', async t => {
  const [liar, client] = await Promise.all([startPeer(t), startPeer(t)])
  await liar.p2p.exchange.stop()
  await liar.p2p.node.handle(BLOB_PROTOCOL, async stream => {
    const lp = lpStream(stream)
    await lp.read()
    await lp.write(Buffer.from('{"type":"HAVE","digest":"sha256:nope"}'))
  })
  await connect(client, liar)
  await assert.rejects(client.p2p.exchange.client.have(liar.p2p.peerId, randomBlob(1).digest), { name: 'MalformedMessageError' })
})
