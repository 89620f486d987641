import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatReference, isValidName, isValidTag, parseReference } from '../../../src/oci/reference.ts'
import type { Digest } from '../../../src/oci/digest.ts'

const DIGEST: Digest = `sha256:${'c'.repeat(64)}`

test('parses names, tags and digests', () => {
  assert.deepEqual(parseReference('busybox'), { name: 'busybox', tag: 'latest' })
  assert.deepEqual(parseReference('library/busybox:1.36'), { name: 'library/busybox', tag: '1.36' })
  assert.deepEqual(parseReference(`app@${DIGEST}`), { name: 'app', digest: DIGEST })
  assert.deepEqual(parseReference(`app:v1@${DIGEST}`), { name: 'app', tag: 'v1', digest: DIGEST })
  assert.deepEqual(parseReference('localhost:5000/team/app:2'), { name: 'localhost:5000/team/app', tag: '2' })
  assert.deepEqual(parseReference('registry.example.com/app'), { name: 'registry.example.com/app', tag: 'latest' })
  assert.deepEqual(parseReference('ab_c__d-e---f/g.h:T_a.g-9'), { name: 'ab_c__d-e---f/g.h', tag: 'T_a.g-9' })
})

test('formats references back', () => {
  assert.equal(formatReference({ name: 'app', tag: 'v1' }), 'app:v1')
  assert.equal(formatReference({ name: 'app', digest: DIGEST }), `app@${DIGEST}`)
  assert.equal(formatReference({ name: 'app', tag: 'v1', digest: DIGEST }), `app:v1@${DIGEST}`)
  for (const ref of ['app:v1', `team/app@${DIGEST}`, 'localhost:5000/app:x']) assert.equal(formatReference(parseReference(ref)), ref)
})

const goodNames = ['a', 'a0', 'library/busybox', 'a.b', 'a_b', 'a__b', 'a-b', 'a--b', 'x/y/z', 'localhost/app', 'Registry.IO:443/app', 'r.io/a/b']
const badNames = ['', 'UPPER', 'Upper/app', 'a//b', '/a', 'a/', '-a', 'a-', '.a', 'a.', 'a..b', 'a___b', 'a b', 'a/../b', '..', 'a/./b', 'ä', 'a'.repeat(256), 'r.io/UPPER']

for (const name of goodNames) {
  test(`accepts the name ${JSON.stringify(name)}`, () => {
    assert.equal(isValidName(name), true)
    assert.equal(parseReference(`${name}:t`).name, name)
  })
}
for (const name of badNames) {
  test(`refuses the name ${JSON.stringify(name.slice(0, 20))}`, () => {
    assert.equal(isValidName(name), false)
    assert.throws(() => parseReference(`${name}:t`), { name: 'InvalidReferenceError', code: 'NAME_INVALID' })
  })
}

const goodTags = ['latest', 'v1.2.3', '_x', 'A', '0', 'a-b_c.d', 'x'.repeat(128)]
const badTags = ['', '.v1', '-v1', 'v/1', 'v 1', 'v:1', 'x'.repeat(129), 'ä']
for (const tag of goodTags) {
  test(`accepts the tag ${JSON.stringify(tag.slice(0, 20))}`, () => {
    assert.equal(isValidTag(tag), true)
    assert.equal(parseReference(`app:${tag}`).tag, tag)
  })
}
for (const tag of badTags) {
  test(`refuses the tag ${JSON.stringify(tag.slice(0, 20))}`, () => {
    assert.equal(isValidTag(tag), false)
    assert.throws(() => parseReference(`app:${tag}`), { name: 'InvalidReferenceError' })
  })
}

test('refuses references whose digest part is not a valid digest', () => {
  for (const ref of ['app@sha256:abc', `app@${DIGEST.toUpperCase()}`, 'app@', `app@sha256:${'c'.repeat(63)}/`, 'app@sha256:../x']) {
    assert.throws(() => parseReference(ref), { name: 'InvalidReferenceError' }, ref)
  }
})
