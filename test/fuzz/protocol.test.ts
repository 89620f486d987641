/**
 * Fuzzing the decoders of the exchange protocol (docs/protocol.md): control frames of arbitrary bytes and of
 * JSON objects with a known `type` and random fields, and the framing layer fed arbitrary bytes (length
 * prefixes included) on an in-memory libp2p stream that then ends. Decoders may only return a validated message
 * or throw the P2P module's typed errors; a message they accept encodes and decodes back to itself; and a read
 * from a stream that ended always finishes without waiting for its timeout.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import fc from 'fast-check'
import { decodeRequest, decodeResponse, encodeMessage } from '../../src/p2p/protocol/codec.ts'
import * as p2pErrors from '../../src/p2p/errors.ts'
import { FramedStream } from '../../src/p2p/protocol/wire.ts'
import { FUZZ_TIMEOUT_MS, errorClassesOf, fuzzParameters, parsedOrTyped, succeedsOrTyped } from './fuzz.ts'

const TYPED = errorClassesOf(p2pErrors)
const TYPES = ['HAVE', 'NOT_HAVE', 'PIECES', 'PIECE', 'GET', 'DEFER', 'RESOLVE', 'RESOLVED', 'NOT_FOUND', 'ERROR']
const FIELDS = ['digest', 'index', 'pieceSize', 'size', 'length', 'complete', 'bitfield', 'suggest', 'want', 'known', 'waitMs', 'peers', 'ref', 'descriptor', 'code', 'message']

const fieldValue = fc.oneof(
  fc.constantFrom(`sha256:${'a'.repeat(64)}`, 'AAAA', 16384, 0, -1, 2 ** 53, true, null, [], { id: '12D3KooWx', addrs: [] }),
  fc.jsonValue({ maxDepth: 2 })
)
const message = fc.record({ type: fc.constantFrom(...TYPES), fields: fc.dictionary(fc.constantFrom(...FIELDS), fieldValue, { maxKeys: 6 }) })
  .map(({ type, fields }) => Buffer.from(JSON.stringify({ ...fields, type })))
const digest = `sha256:${'a'.repeat(64)}`
/** Well-formed messages with random values where the protocol allows them, so that acceptance is exercised too. */
const valid = fc.oneof(
  fc.record({ type: fc.constant('RESOLVE'), ref: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ type: fc.constant('NOT_FOUND'), ref: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ type: fc.constant('GET'), digest: fc.constant(digest), index: fc.nat(), pieceSize: fc.integer({ min: 1, max: 1 << 20 }) }),
  fc.record({ type: fc.constant('ERROR'), code: fc.string({ maxLength: 10 }), message: fc.string({ maxLength: 50 }) })
).map(value => Buffer.from(JSON.stringify(value)))
const frame = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue().map(v => Buffer.from(JSON.stringify(v) ?? 'null')), message, valid)

function decodesBack (decode: (bytes: Uint8Array) => Parameters<typeof encodeMessage>[0], bytes: Uint8Array): void {
  const decoded = parsedOrTyped(() => decode(bytes), TYPED)
  if (decoded !== undefined) assert.deepEqual(decode(encodeMessage(decoded.value)), decoded.value)
}

test('request and response decoders take arbitrary control frames; what they accept round-trips', { timeout: FUZZ_TIMEOUT_MS }, () => {
  fc.assert(fc.property(frame, bytes => {
    decodesBack(decodeRequest, bytes)
    decodesBack(decodeResponse, bytes)
  }), fuzzParameters(3000))
})

test('a framed read of arbitrary bytes from a stream that ends finishes with a message or a typed error', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  // Bytes as a peer might send them: garbage, a length prefix (varint, up to ten 0xff) before a frame, or both.
  const prefix = fc.oneof(fc.uint8Array({ maxLength: 10 }), fc.constant(Buffer.alloc(10, 0xff)), fc.nat({ max: 300 }).map(n => Buffer.from(n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7])))
  const sent = fc.array(fc.oneof(prefix, frame), { minLength: 1, maxLength: 3 }).map(parts => Buffer.concat(parts))
  await fc.assert(fc.asyncProperty(sent, fc.boolean(), async (bytes, asResponse) => {
    const [left, right] = await streamPair()
    const reader = new FramedStream(left, 'fuzz')
    right.send(bytes)
    await right.close()
    try {
      // The timeout is only a backstop: the stream has ended, so the read must not wait for it.
      await succeedsOrTyped(async () => {
        if (asResponse) await reader.readResponse('a response', 60_000)
        else await reader.readRequest(60_000)
      }, TYPED.filter(cls => cls !== p2pErrors.PeerTimeoutError))
    } finally {
      left.abort(new Error('done'))
    }
  }), fuzzParameters(300))
})
