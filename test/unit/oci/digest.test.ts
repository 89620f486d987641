import { test } from 'node:test'
import assert from 'node:assert/strict'
import { digestAlgorithm, digestHex, digestOf, isDigest, parseDigest } from '../../../src/oci/digest.ts'

const HEX64 = 'a'.repeat(64)
const HEX128 = 'b'.repeat(128)

test('accepts sha256 with 64 and sha512 with 128 lower-case hex digits', () => {
  assert.equal(parseDigest(`sha256:${HEX64}`), `sha256:${HEX64}`)
  assert.equal(parseDigest(`sha512:${HEX128}`), `sha512:${HEX128}`)
  assert.equal(digestAlgorithm(parseDigest(`sha512:${HEX128}`)), 'sha512')
  assert.equal(digestHex(parseDigest(`sha256:${HEX64}`)), HEX64)
})

const bad: Array<[string, string]> = [
  ['upper case', `sha256:${'A'.repeat(64)}`],
  ['upper-case algorithm', `SHA256:${HEX64}`],
  ['too short', `sha256:${'a'.repeat(63)}`],
  ['too long', `sha256:${'a'.repeat(65)}`],
  ['sha512 with 64 digits', `sha512:${HEX64}`],
  ['sha256 with 128 digits', `sha256:${HEX128}`],
  ['a slash', `sha256:${'a'.repeat(31)}/${'a'.repeat(32)}`],
  ['dot-dot', `sha256:../${'a'.repeat(61)}`],
  ['a path', 'sha256:../../../etc/passwd'],
  ['unsupported algorithm', `md5:${'a'.repeat(32)}`],
  ['no algorithm', HEX64],
  ['empty', ''],
  ['a trailing newline', `sha256:${HEX64}\n`],
  ['a leading space', ` sha256:${HEX64}`],
  ['non-hex', `sha256:${'g'.repeat(64)}`]
]

for (const [why, value] of bad) {
  test(`refuses a digest with ${why}`, () => {
    assert.equal(isDigest(value), false)
    assert.throws(() => parseDigest(value), { name: 'InvalidDigestError', code: 'DIGEST_INVALID' })
  })
}

test('isDigest refuses non-strings', () => {
  assert.equal(isDigest(undefined), false)
  assert.equal(isDigest(42), false)
  assert.equal(isDigest({ toString: () => `sha256:${HEX64}` }), false)
})

test('digestOf hashes the exact bytes with the chosen algorithm', () => {
  assert.equal(digestOf('{}'), 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a')
  assert.equal(digestOf(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.equal(digestOf('{ }') === digestOf('{}'), false)
  const sha512 = digestOf('abc', 'sha512')
  assert.ok(isDigest(sha512))
  assert.ok(sha512.startsWith('sha512:ddaf35a193617aba'))
})
