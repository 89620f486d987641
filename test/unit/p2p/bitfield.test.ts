import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Bitfield } from '../../../src/p2p/pieces/bitfield.ts'

test('pieces are stored most significant bit first, as BitTorrent does', () => {
  const field = new Bitfield(10)
  field.set(0)
  field.set(9)
  assert.deepEqual([...field.toBytes()], [0x80, 0x40])
  assert.equal(field.count(), 2)
  assert.deepEqual([...field.indices()], [0, 9])
})

test('set, clear, has and completeness', () => {
  const field = new Bitfield(3)
  assert.equal(field.isComplete(), false)
  for (let i = 0; i < 3; i++) field.set(i)
  field.set(1)
  assert.equal(field.count(), 3)
  assert.equal(field.isComplete(), true)
  field.clear(1)
  field.clear(1)
  assert.equal(field.count(), 2)
  assert.equal(field.has(1), false)
  assert.equal(field.has(-1), false)
  assert.equal(field.has(3), false)
  assert.throws(() => { field.set(3) }, RangeError)
  assert.equal(Bitfield.full(17).count(), 17)
  assert.equal(new Bitfield(0).isComplete(), true)
})

test('base64 round trip, and clones are independent', () => {
  const field = new Bitfield(20)
  for (const i of [1, 7, 8, 19]) field.set(i)
  const copy = Bitfield.fromBase64(field.toBase64(), 20)
  assert.deepEqual([...copy.indices()], [1, 7, 8, 19])
  copy.set(2)
  assert.equal(field.has(2), false)
})

test('garbage bitfields are rejected', () => {
  assert.throws(() => Bitfield.fromBytes(new Uint8Array(3), 10), { name: 'MalformedMessageError' })
  assert.throws(() => Bitfield.fromBytes(Uint8Array.of(0xff, 0xff), 10), { name: 'MalformedMessageError' }, 'spare bits set')
  assert.throws(() => Bitfield.fromBase64('***', 10), { name: 'MalformedMessageError' })
  assert.equal(Bitfield.fromBytes(Uint8Array.of(0xff, 0xc0), 10).count(), 10)
})
