import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sign } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  assertSignedBy, fingerprint, formatPublicKey, formatSecretKey, generateKeyFiles, generateSecretKey, isSignedBy,
  loadPublicKeyFile, loadSecretKeyFile, parsePublicKey, parseSecretKey, signPathInfo, verifySignature
} from '../../../src/nix/index.ts'
import type { PathInfo } from '../../../src/nix/index.ts'

// RFC 8032 §7.1, tests 1 and 2: seed, public key, message, signature.
const VECTORS = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  }
]

function secretText (seedHex: string, pubHex: string, name = 'test-1'): string {
  return `${name}:${Buffer.from(seedHex + pubHex, 'hex').toString('base64')}`
}

const INFO: PathInfo = {
  path: '/nix/store/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top',
  narHash: 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s',
  narSize: 496,
  references: ['/nix/store/zzc5pcc9r45zw7v18cm8dhs7kpva37sl-z', '/nix/store/37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep'],
  sigs: []
}

for (const [i, v] of VECTORS.entries()) {
  test(`RFC 8032 vector ${i + 1}: a Nix-format secret key signs byte-identically`, () => {
    const secret = parseSecretKey(secretText(v.seed, v.pub))
    assert.equal(Buffer.from(secret.publicKey.bytes).toString('hex'), v.pub)
    assert.equal(sign(null, Buffer.from(v.message, 'hex'), secret.key).toString('hex'), v.sig)
  })
}

test('the fingerprint is 1;path;narHash;narSize;sorted full references', () => {
  assert.equal(fingerprint(INFO), '1;/nix/store/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top;' +
    'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s;496;' +
    '/nix/store/37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep,/nix/store/zzc5pcc9r45zw7v18cm8dhs7kpva37sl-z')
  assert.ok(fingerprint({ ...INFO, references: [] }).endsWith(';496;'))
})

test('the fingerprint normalises a base16 narHash to nix32', () => {
  const hex = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
  assert.equal(fingerprint({ ...INFO, narHash: hex }), fingerprint(INFO))
})

test('a signature verifies with the matching public key only, and not after a change', () => {
  const secret = parseSecretKey(secretText(VECTORS[0]!.seed, VECTORS[0]!.pub, 'cache-1'))
  const other = generateSecretKey('cache-1')
  const sig = signPathInfo(INFO, secret)
  assert.match(sig, /^cache-1:[A-Za-z0-9+/]{86}==$/)
  assert.ok(verifySignature(INFO, sig, [secret.publicKey]))
  assert.equal(verifySignature(INFO, sig, [other.publicKey]), false)
  assert.equal(verifySignature({ ...INFO, narSize: 497 }, sig, [secret.publicKey]), false)
  assert.equal(verifySignature({ ...INFO, references: [] }, sig, [secret.publicKey]), false)
  assert.equal(verifySignature(INFO, sig.replace('cache-1:', 'cache-2:'), [secret.publicKey]), false)
  assert.equal(verifySignature(INFO, 'cache-1:AAAA', [secret.publicKey]), false)
  assert.ok(isSignedBy({ ...INFO, sigs: ['junk:AAAA', sig] }, [other.publicKey, secret.publicKey]))
  assert.throws(() => assertSignedBy({ ...INFO, sigs: [sig] }, [other.publicKey]), { name: 'SignatureError' })
})

test('keys round-trip through their text form', () => {
  const secret = generateSecretKey('node-a-1')
  const again = parseSecretKey(formatSecretKey(secret))
  assert.deepEqual(again.seed, secret.seed)
  assert.equal(formatPublicKey(parsePublicKey(formatPublicKey(secret.publicKey))), formatPublicKey(secret.publicKey))
  assert.equal(parsePublicKey(`x:${Buffer.from(VECTORS[0]!.pub, 'hex').toString('base64')}\n`).name, 'x')
})

test('malformed keys are refused', () => {
  const pub = Buffer.from(VECTORS[0]!.pub, 'hex').toString('base64')
  const mismatched = `k:${Buffer.from(VECTORS[0]!.seed + VECTORS[1]!.pub, 'hex').toString('base64')}`
  for (const bad of ['nocolon', `:${pub}`, 'k:not base64!', `k:${pub}`, mismatched]) {
    assert.throws(() => parseSecretKey(bad), { name: 'NixKeyError' }, bad)
  }
  for (const bad of ['k:AAAA', `k:${pub}${pub}`, pub]) {
    assert.throws(() => parsePublicKey(bad), { name: 'NixKeyError' }, bad)
  }
  assert.throws(() => generateSecretKey('a:b'), { name: 'NixKeyError' })
  assert.throws(() => fingerprint({ ...INFO, narSize: 0 }), { name: 'NixKeyError' })
})

test('key files: generated with a private secret file, loaded back, never overwritten', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nix-keys-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const secret = await generateKeyFiles('host-1', join(dir, 'secret'), join(dir, 'public'))
  assert.equal((await stat(join(dir, 'secret'))).mode & 0o777, 0o600)
  assert.match(await readFile(join(dir, 'public'), 'utf8'), /^host-1:[A-Za-z0-9+/]{43}=$/)
  assert.deepEqual((await loadSecretKeyFile(join(dir, 'secret'))).seed, secret.seed)
  assert.deepEqual((await loadPublicKeyFile(join(dir, 'public'))).bytes, secret.publicKey.bytes)
  await assert.rejects(generateKeyFiles('host-1', join(dir, 'secret'), join(dir, 'public2')), { code: 'EEXIST' })
})
