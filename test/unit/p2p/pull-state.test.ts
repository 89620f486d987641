import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BanList, parsePieces, serializePieces } from '../../../src/p2p/pulling/pull-state.ts'
import { Bitfield } from '../../../src/p2p/pieces/bitfield.ts'
import { digestOf } from '../../../src/oci/digest.ts'

const digest = digestOf('state')

test('the piece state survives a round trip through the partial blob\'s state file', () => {
  const verified = new Bitfield(3)
  verified.set(2)
  const list = { size: 40000, pieceSize: 16384, hashes: new Uint8Array(96).fill(4) }
  const json = JSON.parse(JSON.stringify(serializePieces({ list, verified, supporters: ['p1'] })))
  const back = parsePieces(json, digest, 40000)
  assert.ok(back !== undefined)
  assert.deepEqual([...back.verified.indices()], [2])
  assert.deepEqual(Buffer.from(back.list.hashes), Buffer.from(list.hashes))
  assert.deepEqual(back.supporters, ['p1'])
})

test('unusable state means starting over, never trusting it', () => {
  const good = serializePieces({ list: { size: 40000, pieceSize: 16384, hashes: new Uint8Array(96) }, verified: new Bitfield(3), supporters: [] })
  assert.equal(parsePieces(undefined, digest, 40000), undefined)
  assert.equal(parsePieces('x', digest, 40000), undefined)
  assert.equal(parsePieces({ ...good, v: 2 }, digest, 40000), undefined)
  assert.equal(parsePieces(good, digest, 50000), undefined, 'a list for another size')
  assert.equal(parsePieces({ ...good, verified: '////' }, digest, 40000), undefined)
  assert.equal(parsePieces({ ...good, pieceSize: 1000 }, digest, 40000), undefined)
})

test('a ban is recorded once, with its reason', () => {
  const bans = new BanList()
  assert.equal(bans.ban('p', 'bad piece'), true)
  assert.equal(bans.ban('p', 'again'), false)
  assert.equal(bans.isBanned('p'), true)
  assert.deepEqual(bans.entries(), { p: 'bad piece' })
})
