import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import {
  decodeNix32, encodeNix32, isNix32, nix32Length, nixHashBytes, nixHashOf, parseNixHash
} from '../../../src/nix/index.ts'

test('sha256("abc") encodes to the vector of docs/formats.md "Nix store paths and nix32"', () => {
  const digest = createHash('sha256').update('abc').digest()
  assert.equal(encodeNix32(digest), '1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s')
  assert.deepEqual(Buffer.from(decodeNix32('1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s')), digest)
})

test('lengths follow floor((8n-1)/5)+1', () => {
  assert.equal(nix32Length(32), 52)
  assert.equal(nix32Length(20), 32)
  assert.equal(nix32Length(1), 2)
  assert.equal(encodeNix32(new Uint8Array(0)), '')
})

test('encode and decode round-trip for every length up to 64 bytes', () => {
  for (let n = 1; n <= 64; n++) {
    const bytes = randomBytes(n)
    const text = encodeNix32(bytes)
    assert.equal(text.length, nix32Length(n))
    assert.deepEqual(Buffer.from(decodeNix32(text)), bytes)
    assert.ok(isNix32(text, n))
  }
})

test('known single-byte encodings: the last 5-bit group comes first', () => {
  assert.equal(encodeNix32(Uint8Array.of(0x00)), '00')
  assert.equal(encodeNix32(Uint8Array.of(0x1f)), '0z')
  assert.equal(encodeNix32(Uint8Array.of(0xff)), '7z')
})

test('decode rejects characters outside the alphabet', () => {
  for (const bad of ['e', 'o', 'u', 't', 'A', '-']) {
    assert.throws(() => decodeNix32(bad + '1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5'.slice(0, 51)), { name: 'Nix32Error' })
  }
})

test('decode rejects impossible lengths and bits beyond the last byte', () => {
  assert.throws(() => decodeNix32('0'.repeat(51)), { name: 'Nix32Error' })
  assert.throws(() => decodeNix32('2' + '0'.repeat(51)), { name: 'Nix32Error' })
  assert.throws(() => decodeNix32('8z'), { name: 'Nix32Error' })
  assert.equal(isNix32('z'.repeat(52), 32), false)
})

test('hashes: nix32, base16 and SRI forms normalise to sha256:<nix32>', () => {
  const digest = createHash('sha256').update('abc').digest()
  const expected = 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s'
  assert.equal(nixHashOf('abc'), expected)
  assert.equal(parseNixHash(expected), expected)
  assert.equal(parseNixHash(`sha256:${digest.toString('hex')}`), expected)
  assert.equal(parseNixHash(`sha256-${digest.toString('base64')}`), expected)
  assert.deepEqual(Buffer.from(nixHashBytes(expected)), digest)
})

test('hashes: other algorithms and malformed bodies are refused', () => {
  for (const bad of ['md5:abc', 'sha512:' + '0'.repeat(128), 'sha256:xyz', 'sha256:' + 'e'.repeat(52), 'sha256-abc', '']) {
    assert.throws(() => parseNixHash(bad), { name: 'NixHashError' }, bad)
  }
})
