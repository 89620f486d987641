/** The /emergence/migrate/1.1.0 messages (src/automaton/migrate/codec.ts): valid frames decode, garbage is a typed error. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeMigrate } from '../../../src/automaton/migrate/codec.ts'
import { encodeFrame } from '../../../src/p2p/protocol/codec.ts'

const DIGEST = `sha256:${'b'.repeat(64)}`
const frame = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value))

test('an OFFER with a spec and an image or Nix artefact decodes; unknown fields are ignored', () => {
  const offer = { type: 'OFFER', spec: { name: 'counter', artefact: 'app/counter:1', state: '/state' }, artefact: { kind: 'image', digest: DIGEST }, extra: 1 }
  const decoded = decodeMigrate(frame(offer))
  assert.equal(decoded.type, 'OFFER')
  assert.deepEqual(decoded.type === 'OFFER' ? decoded.artefact : undefined, { kind: 'image', digest: DIGEST })
  const nix = decodeMigrate(frame({ ...offer, artefact: { kind: 'nix', path: '/nix/store/0c7x0hb1n8bvf1b7bksl2gm1dmvlxqm1-hello-2.12' } }))
  assert.equal(nix.type === 'OFFER' ? nix.artefact.kind : undefined, 'nix')
})

test('garbage is refused with a typed error naming the field', () => {
  assert.throws(() => decodeMigrate(frame({ type: 'OFFER', spec: { name: '../x', artefact: 'a:1' }, artefact: { kind: 'image', digest: DIGEST } })), { name: 'MalformedMessageError', message: /OFFER\.spec\.name/ })
  assert.throws(() => decodeMigrate(frame({ type: 'SNAPSHOT', digest: 'sha256:nothex', size: 1 })), { name: 'MalformedMessageError', message: /SNAPSHOT\.digest/ })
  assert.throws(() => decodeMigrate(frame({ type: 'SNAPSHOT', digest: DIGEST, size: -1 })), { name: 'MalformedMessageError' })
  assert.throws(() => decodeMigrate(frame({ type: 'OFFER', spec: { name: 'a', artefact: 'a:1' }, artefact: { kind: 'nix', path: '/etc/passwd' } })), { name: 'MalformedMessageError' })
  assert.throws(() => decodeMigrate(frame({ type: 'RESOLVE', ref: 'a:1' })), { name: 'UnknownMessageError' })
  assert.throws(() => decodeMigrate(Buffer.from('{not json')), { name: 'MalformedMessageError' })
  const peers = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`peer${i}`, 1]))
  assert.throws(() => decodeMigrate(frame({ type: 'READY', fetchedBytes: 1, fromPeers: peers })), { name: 'MalformedMessageError', message: /too many peers/ })
})

test('the pre-copy frames: BASE, BASE_READY, and a SNAPSHOT naming its base', () => {
  assert.deepEqual(decodeMigrate(frame({ type: 'BASE', digest: DIGEST, size: 10 })), { type: 'BASE', digest: DIGEST, size: 10 })
  assert.deepEqual(decodeMigrate(frame({ type: 'BASE_READY', applied: false, fetchedBytes: 0 })), { type: 'BASE_READY', applied: false, fetchedBytes: 0 })
  const delta = decodeMigrate(frame({ type: 'SNAPSHOT', digest: DIGEST, size: 3, base: DIGEST }))
  assert.equal(delta.type === 'SNAPSHOT' ? delta.base : undefined, DIGEST)
  assert.throws(() => decodeMigrate(frame({ type: 'SNAPSHOT', digest: DIGEST, size: 3, base: 'sha256:x' })), { name: 'MalformedMessageError', message: /SNAPSHOT\.base/ })
  assert.throws(() => decodeMigrate(frame({ type: 'BASE_READY', applied: 'yes', fetchedBytes: 0 })), { name: 'MalformedMessageError' })
})

test('a frame past 64 KiB is refused before it is parsed, both ways', () => {
  const big = { type: 'ERROR', code: 'X', message: 'y'.repeat(70 * 1024) }
  assert.throws(() => encodeFrame(big), { name: 'FrameTooLargeError' })
  assert.throws(() => decodeMigrate(frame(big)), { name: 'FrameTooLargeError' })
})
