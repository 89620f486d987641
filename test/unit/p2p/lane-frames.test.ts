import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { FrameReader, KIND, TicketBook, encodeFrame, type LaneFrame } from '../../../src/p2p/lane/index.ts'

const ANSWERS = { accept: new Set([KIND.answer, KIND.ready]), withData: new Set([KIND.answer]) }

function frames (): { frames: LaneFrame[], reader: FrameReader } {
  const got: LaneFrame[] = []
  return { frames: got, reader: new FrameReader({ ...ANSWERS, onFrame: f => { got.push(f) } }) }
}

test('frames come out whole however the bytes are cut, the piece bytes unjoined and hashed on arrival', () => {
  const piece = randomBytes(100_000)
  const header = Buffer.from('{"type":"PIECE"}')
  const wire = Buffer.concat([encodeFrame(KIND.ready, 0, Buffer.alloc(0)), encodeFrame(KIND.answer, 7, header, piece.byteLength), piece, encodeFrame(KIND.answer, 8, header)])
  for (const cut of [1, 5, 13, 14, 1000, 16384, wire.byteLength]) {
    const { frames: got, reader } = frames()
    for (let at = 0; at < wire.byteLength; at += cut) reader.push(wire.subarray(at, at + cut))
    assert.equal(got.length, 3, `cut every ${cut} bytes`)
    const [ready, answer, bare] = got
    assert.equal(ready?.kind, KIND.ready)
    assert.equal(answer?.id, 7)
    assert.deepEqual(answer?.header, header)
    assert.deepEqual(Buffer.concat([...answer?.data?.chunks ?? []]), piece)
    assert.deepEqual(Buffer.from(answer?.data?.sha256 ?? []), createHash('sha256').update(piece).digest())
    assert.equal(bare?.id, 8)
    assert.equal(bare?.data, undefined)
    assert.equal(reader.midFrame, false)
  }
})

test('garbage on the lane is a protocol violation at the prefix, before anything is buffered', () => {
  const cases: Array<[Buffer, string]> = [
    [encodeFrame(KIND.request, 1, Buffer.alloc(0)), 'ProtocolViolationError'],
    [Buffer.from([99, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), 'ProtocolViolationError'],
    [encodeFrame(KIND.ready, 0, Buffer.alloc(0), 10), 'ProtocolViolationError'],
    [encodeFrame(KIND.answer, 1, Buffer.alloc(0), 4 * 1024 * 1024 + 1), 'FrameTooLargeError']
  ]
  const oversized = Buffer.alloc(13)
  oversized.writeUInt8(KIND.answer, 0)
  oversized.writeUInt32BE(64 * 1024 + 1, 5)
  cases.push([oversized, 'FrameTooLargeError'])
  for (const [bytes, name] of cases) {
    const { reader } = frames()
    assert.throws(() => { reader.push(bytes.subarray(0, 13)) }, { name })
  }
})

test('a ticket is redeemed once, by the peer it was issued to, and only a few stay live per peer', () => {
  const book = new TicketBook()
  const ticket = book.issue('alice')
  assert.equal(book.redeem('mallory', ticket), false)
  assert.equal(book.redeem('alice', randomBytes(32)), false)
  assert.equal(book.redeem('alice', ticket), true)
  assert.equal(book.redeem('alice', ticket), false, 'single use')
  const old = book.issue('alice')
  for (let i = 0; i < 4; i++) book.issue('alice')
  assert.equal(book.redeem('alice', old), false, 'the oldest was dropped')
  const expiring = new TicketBook(-1)
  assert.equal(expiring.redeem('bob', expiring.issue('bob')), false, 'an expired ticket')
})

test('a plaintext-lane ticket names its peer once, and the two kinds of ticket never stand in for each other', () => {
  const book = new TicketBook()
  const plain = book.issue('alice', { plaintext: true })
  const tls = book.issue('alice')
  assert.equal(book.redeem('alice', plain), false, 'a plaintext ticket opens no TLS lane')
  assert.equal(book.redeemPlain(tls), undefined, 'a TLS ticket opens no plaintext lane')
  assert.equal(book.redeemPlain(randomBytes(32)), undefined)
  assert.equal(book.redeemPlain(plain), 'alice')
  assert.equal(book.redeemPlain(plain), undefined, 'single use')
  assert.equal(book.redeem('alice', tls), true)
})
