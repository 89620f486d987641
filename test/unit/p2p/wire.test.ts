import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lpStream, streamPair } from '@libp2p/utils'
import { FramedStream } from '../../../src/p2p/protocol/wire.ts'
import { MAX_DATA_FRAME } from '../../../src/p2p/constants.ts'

const digest = `sha256:${'b'.repeat(64)}` as const

test('a request, a header and a data frame cross an in-memory stream pair', async () => {
  const [left, right] = await streamPair()
  const client = new FramedStream(left, 'server')
  const server = new FramedStream(right, 'client')
  await client.write({ type: 'GET', digest, index: 1, pieceSize: 16384 }, 1000)
  assert.deepEqual(await server.readRequest(1000), { type: 'GET', digest, index: 1, pieceSize: 16384 })
  const data = Buffer.alloc(100_000, 7)
  await server.writeWithData({ type: 'PIECE', digest, index: 1, length: data.byteLength }, data, 1000)
  const header = await client.readResponse('piece', 1000)
  assert.equal(header.type, 'PIECE')
  const frame = await client.readData(data.byteLength, 'piece', 1000)
  assert.deepEqual(Buffer.from(frame.subarray()), data)
})

test('a data frame of another length than announced is a protocol violation', async () => {
  const [left, right] = await streamPair()
  const client = new FramedStream(left, 'server')
  await lpStream(right).write(Buffer.alloc(10))
  await assert.rejects(client.readData(11, 'piece', 1000), { name: 'UnexpectedResponseError' })
})

test('a frame over the data limit is refused before it is buffered whole', async () => {
  const [left, right] = await streamPair()
  const client = new FramedStream(left, 'server')
  // Only the length prefix: a peer announcing more than MAX_DATA_FRAME is cut off at once.
  const prefix = Buffer.from([0x81, 0x80, 0x80, 0x02])
  assert.ok((0x01 | (0x00 << 7) | (0x00 << 14) | (0x02 << 21)) > MAX_DATA_FRAME)
  right.send(prefix)
  await assert.rejects(client.readData(10, 'piece', 1000), { name: 'FrameTooLargeError' })
})

test('a stream that ends mid-frame is a truncated response, not success', async () => {
  const [left, right] = await streamPair()
  const client = new FramedStream(left, 'server')
  right.send(Buffer.from([100, 1, 2, 3]))
  await right.close()
  await assert.rejects(client.readData(100, 'piece', 1000), { name: 'TruncatedResponseError' })
})

test('garbage control frames and silence give typed errors', async () => {
  const [left, right] = await streamPair()
  const client = new FramedStream(left, 'server')
  await lpStream(right).write(Buffer.from('{"type":"PIECE","digest":"nope"}'))
  await assert.rejects(client.readResponse('piece', 1000), { name: 'MalformedMessageError' })
  const [quiet] = await streamPair()
  await assert.rejects(new FramedStream(quiet, 'silent').readResponse('HAVE', 50), { name: 'PeerTimeoutError' })
})

test('the caller\'s abort wins over the timeout', async () => {
  const [quiet] = await streamPair()
  const controller = new AbortController()
  const reading = new FramedStream(quiet, 'silent').readResponse('HAVE', 10_000, controller.signal)
  controller.abort(new Error('cancelled by caller'))
  await assert.rejects(reading, /cancelled by caller/)
})

test('a length prefix is refused as soon as it passes the limit of the read, or runs longer than the limit needs', async () => {
  const [left, right] = await streamPair()
  const server = new FramedStream(right, 'client')
  // A request is a control frame: 64 KiB + 1 is refused at its prefix, before any payload.
  left.send(Buffer.from([0x81, 0x80, 0x04]))
  await assert.rejects(server.readRequest(1000), { name: 'FrameTooLargeError' })
  const [l2, r2] = await streamPair()
  // Zeros padded past the bytes a 64 KiB frame needs: the prefix never grows, and is refused all the same.
  l2.send(Buffer.from([0x80, 0x80, 0x80]))
  await assert.rejects(new FramedStream(r2, 'client').readRequest(1000), { name: 'FrameTooLargeError' })
})
