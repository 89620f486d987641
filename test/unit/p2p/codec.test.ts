import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeRequest, decodeResponse, encodeMessage, type Request, type Response } from '../../../src/p2p/protocol/codec.ts'
import { MAX_CONTROL_FRAME } from '../../../src/p2p/constants.ts'

const digest = `sha256:${'a'.repeat(64)}` as const
const peer = '12D3KooWNFWaMyLxcPSyz517pyoXCdoX67oJvGAugcAEP3sf6EYh'
const bytes = (value: unknown): Uint8Array => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))

test('every request survives encode and decode', () => {
  const requests: Request[] = [
    { type: 'HAVE', digest },
    { type: 'PIECES', digest },
    { type: 'GET', digest, index: 3, pieceSize: 1024 * 1024 },
    { type: 'RESOLVE', ref: 'library/busybox:1.36' },
    // 1.1: a HAVE held until a new piece (long poll), a GET that takes one of several pieces.
    { type: 'HAVE', digest, known: 'gA==', waitMs: 2000 },
    { type: 'GET', digest, index: 3, pieceSize: 1024 * 1024, want: '8A==' }
  ]
  for (const request of requests) assert.deepEqual(decodeRequest(encodeMessage(request)), request)
})

test('every response survives encode and decode', () => {
  const responses: Response[] = [
    { type: 'HAVE', digest, size: 10, pieceSize: 65536, complete: false, bitfield: 'gA==', peers: [{ id: peer, addrs: ['/ip4/127.0.0.1/tcp/4150'] }] },
    { type: 'NOT_HAVE', digest, index: 2, peers: [] },
    { type: 'PIECES', digest, size: 10, pieceSize: 65536, length: 32 },
    { type: 'PIECE', digest, index: 0, length: 10 },
    { type: 'RESOLVED', ref: 'a:b', descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 5 } },
    { type: 'NOT_FOUND', ref: 'a:b' },
    { type: 'ERROR', code: 'BUSY', message: 'later' }
  ]
  for (const response of responses) assert.deepEqual(decodeResponse(encodeMessage(response)), response)
})

test('unknown fields are ignored, for forward compatibility within 1.x', () => {
  assert.deepEqual(decodeRequest(bytes({ type: 'HAVE', digest, future: true })), { type: 'HAVE', digest })
})

test('garbage is rejected with a typed error', () => {
  const cases: Array<[unknown, string]> = [
    ['not json', 'MalformedMessageError'],
    [[1, 2], 'MalformedMessageError'],
    ['null', 'MalformedMessageError'],
    [{ digest }, 'MalformedMessageError'],
    [{ type: 'STEAL', digest }, 'UnknownMessageError'],
    [{ type: '__proto__' }, 'UnknownMessageError'],
    [{ type: 'HAVE', digest: 'sha256:XYZ' }, 'MalformedMessageError'],
    [{ type: 'HAVE', digest: `sha256:${'a'.repeat(64)}/../x` }, 'MalformedMessageError'],
    [{ type: 'GET', digest, index: -1, pieceSize: 65536 }, 'MalformedMessageError'],
    [{ type: 'GET', digest, index: 1.5, pieceSize: 65536 }, 'MalformedMessageError'],
    [{ type: 'GET', digest, index: 1, pieceSize: 1e12 }, 'MalformedMessageError'],
    [{ type: 'GET', digest, index: 1, pieceSize: 65536, want: 'not base64!' }, 'MalformedMessageError'],
    [{ type: 'HAVE', digest, known: 'gA==', waitMs: 3_600_000 }, 'MalformedMessageError']
  ]
  for (const [value, name] of cases) {
    assert.throws(() => decodeRequest(bytes(value)), { name }, JSON.stringify(value))
  }
  assert.throws(() => decodeRequest(Buffer.from([0xff, 0xfe, 0x7b])), { name: 'MalformedMessageError' })
})

test('responses with bad fields are rejected', () => {
  assert.throws(() => decodeResponse(bytes({ type: 'HAVE', digest, size: 10, pieceSize: 65536, complete: true, peers: Array(33).fill({ id: peer, addrs: [] }) })), { name: 'MalformedMessageError' })
  assert.throws(() => decodeResponse(bytes({ type: 'HAVE', digest, size: 10, pieceSize: 65536, complete: true, peers: [{ id: '../etc', addrs: [] }] })), { name: 'MalformedMessageError' })
  assert.throws(() => decodeResponse(bytes({ type: 'PIECE', digest, index: 0, length: 5 * 1024 * 1024 })), { name: 'MalformedMessageError' })
  assert.throws(() => decodeResponse(bytes({ type: 'RESOLVED', ref: 'a:b', descriptor: { digest } })), { name: 'MalformedMessageError' })
  assert.throws(() => decodeResponse(bytes({ type: 'GET', digest, index: 0, pieceSize: 65536 })), { name: 'UnknownMessageError' })
})

test('oversized control frames are refused both ways', () => {
  const huge = bytes({ type: 'RESOLVE', ref: 'x'.repeat(MAX_CONTROL_FRAME) })
  assert.throws(() => decodeRequest(huge), { name: 'FrameTooLargeError' })
  assert.throws(() => encodeMessage({ type: 'ERROR', code: 'X', message: 'y'.repeat(MAX_CONTROL_FRAME) }), { name: 'FrameTooLargeError' })
})
