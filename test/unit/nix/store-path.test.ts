import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hashPartOf, isStorePath, parseStoreBaseName, parseStorePath, storeNameProblem } from '../../../src/nix/index.ts'

const HASH = '3cqrw6r0j8skpzwa5fhgjwx5jwrgai67'

test('parses a store path into its parts', () => {
  const parsed = parseStorePath(`/nix/store/${HASH}-hello-2.12.1`)
  assert.deepEqual(parsed, { path: `/nix/store/${HASH}-hello-2.12.1`, baseName: `${HASH}-hello-2.12.1`, hashPart: HASH, name: 'hello-2.12.1' })
  assert.equal(hashPartOf(parsed.path), HASH)
  assert.equal(parseStoreBaseName(`${HASH}-x.drv`).path, `/nix/store/${HASH}-x.drv`)
})

test('accepts every allowed name character and the longest name', () => {
  assert.ok(isStorePath(`/nix/store/${HASH}-aZ09+-._?=`))
  assert.ok(isStorePath(`/nix/store/${HASH}-${'a'.repeat(211)}`))
  assert.ok(isStorePath(`/nix/store/${HASH}-.a`))
  assert.ok(isStorePath(`/nix/store/${HASH}-..a`))
})

const bad: Array<[string, string]> = [
  ['other store dir', `/gnu/store/${HASH}-x`],
  ['relative', `nix/store/${HASH}-x`],
  ['sub-path', `/nix/store/${HASH}-x/bin`],
  ['trailing slash', `/nix/store/${HASH}-x/`],
  ['short hash', `/nix/store/${HASH.slice(1)}-x`],
  ['e in hash', `/nix/store/e${HASH.slice(1)}-x`],
  ['upper-case hash', `/nix/store/${HASH.toUpperCase()}-x`],
  ['no dash', `/nix/store/${HASH}x`],
  ['empty name', `/nix/store/${HASH}-`],
  ['name too long', `/nix/store/${HASH}-${'a'.repeat(212)}`],
  ['space in name', `/nix/store/${HASH}-a b`],
  ['non-ASCII name', `/nix/store/${HASH}-é`],
  ['name .', `/nix/store/${HASH}-.`],
  ['name ..', `/nix/store/${HASH}-..`],
  ['name starts .-', `/nix/store/${HASH}-.-x`],
  ['name starts ..-', `/nix/store/${HASH}-..-x`],
  ['hash part only', `/nix/store/${HASH}`]
]

for (const [why, path] of bad) {
  test(`rejects a store path: ${why}`, () => {
    assert.throws(() => parseStorePath(path), { name: 'StorePathError' })
    assert.equal(isStorePath(path), false)
  })
}

test('rejects a base name with a slash', () => {
  assert.throws(() => parseStoreBaseName(`${HASH}-a/b`), { name: 'StorePathError' })
})

test('storeNameProblem explains', () => {
  assert.equal(storeNameProblem('ok-1.0'), undefined)
  assert.match(storeNameProblem('a b') ?? '', /character/)
})
