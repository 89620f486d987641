import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Bitfield } from '../../../src/p2p/pieces/bitfield.ts'
import { PieceScheduler } from '../../../src/p2p/pulling/scheduler.ts'

function field (length: number, pieces: number[]): Bitfield {
  const f = new Bitfield(length)
  for (const i of pieces) f.set(i)
  return f
}

test('rarest first: a piece only one peer has goes before pieces many have', () => {
  const s = new PieceScheduler({ count: 4, random: () => 0.99 })
  s.setPeer('seed', 'all')
  s.setPeer('a', field(4, [0, 1, 2]))
  s.setPeer('b', field(4, [0, 1]))
  // Availability: 0 -> 3, 1 -> 3, 2 -> 2, 3 -> 1. The seed is asked for piece 3, the only one nobody else has.
  assert.equal(s.assign('seed'), 3)
  assert.equal(s.assign('a'), 2)
  assert.equal(s.assign('b') !== undefined, true)
})

test('a peer is only asked for pieces it has, and not twice outside the endgame', () => {
  const s = new PieceScheduler({ count: 3 })
  s.setPeer('a', field(3, [1]))
  s.setPeer('b', field(3, [1, 2]))
  assert.equal(s.assign('a'), 1)
  assert.equal(s.assign('b'), 2)
  assert.equal(s.isEndgame(), false, 'piece 0 is missing and nobody fetches it')
  assert.equal(s.assign('a'), undefined)
})

test('ties are broken at random so that downloaders spread out', () => {
  const picks = new Set<number | undefined>()
  for (const r of [0, 0.3, 0.6, 0.99]) {
    let calls = 0
    const s = new PieceScheduler({ count: 8, random: () => { calls++; return calls === 1 ? 0 : r } })
    s.setPeer('seed', 'all')
    picks.add(s.assign('seed'))
  }
  assert.ok(picks.size > 1)
})

test('endgame: the last pieces are requested from more than one peer, up to the limit', () => {
  const s = new PieceScheduler({ count: 2, endgameDuplicates: 2 })
  for (const p of ['a', 'b', 'c']) s.setPeer(p, 'all')
  const first = s.assign('a')
  const second = s.assign('b')
  assert.notEqual(first, second)
  assert.equal(s.isEndgame(), true)
  const dup = s.assign('c')
  assert.ok(dup === first || dup === second)
  assert.equal(s.assign('c') !== dup, true, 'never the same piece twice to one peer')
  const other = dup === first ? second : first
  const cancelled = s.complete('c', dup as number)
  assert.deepEqual(cancelled, [dup === first ? 'a' : 'b'])
  assert.equal(s.remaining, 1)
  s.complete('a', other as number)
  assert.equal(s.isComplete(), true)
  assert.equal(s.assign('b'), undefined)
})

test('removing a peer releases its pieces for others; resumed pieces are never asked', () => {
  const s = new PieceScheduler({ count: 3, done: field(3, [0]) })
  s.setPeer('a', 'all')
  s.setPeer('b', 'all')
  const index = s.assign('a') as number
  assert.notEqual(index, 0)
  assert.deepEqual(s.removePeer('a'), [index])
  assert.equal(s.hasPeer('a'), false)
  const got = [s.assign('b'), s.assign('b')].sort()
  assert.deepEqual(got, [1, 2])
})

test('mismatched bitfields are refused', () => {
  const s = new PieceScheduler({ count: 3 })
  assert.throws(() => { s.setPeer('a', new Bitfield(4)) }, RangeError)
  assert.throws(() => new PieceScheduler({ count: 3, done: new Bitfield(2) }), RangeError)
})

test('strict mode spares a complete holder: no piece a partial holder has, only hinted ones outside the endgame', () => {
  const s = new PieceScheduler({ count: 4 })
  const hint = field(4, [2, 3])
  s.setPeer('seed', 'all', hint)
  s.setPeer('peer', field(4, [3]))
  assert.equal(s.hasPartialPeers(), true)
  // Piece 3 is at a partial holder, pieces 0 and 1 were sent out already: only piece 2 is left for the seed.
  assert.equal(s.assign('seed', { strict: true }), 2)
  assert.equal(s.assign('seed', { strict: true }), undefined)
  assert.equal(s.assign('peer', { strict: true }), 3)
  // Relaxed (the pull waited long enough), anything goes.
  assert.ok([0, 1].includes(s.assign('seed') as number))
})

test('complete holders alone are never held back', () => {
  const s = new PieceScheduler({ count: 2 })
  s.setPeer('a', 'all', new Bitfield(2))
  s.setPeer('b', 'all')
  assert.equal(s.hasPartialPeers(), false)
  assert.notEqual(s.assign('b', { strict: true }), undefined)
})

test('a request offers every missing piece nobody is fetching; strict, none a partial holder has', () => {
  const s = new PieceScheduler({ count: 5, done: field(5, [4]) })
  s.setPeer('seed', 'all')
  s.setPeer('peer', field(5, [3]))
  const asked = s.assign('peer') as number
  assert.equal(asked, 3)
  assert.deepEqual([...s.want('seed', 0).indices()], [0, 1, 2], 'not the piece in flight, not the one we have')
  assert.deepEqual([...s.want('seed', 0, { strict: true }).indices()], [0, 1, 2])
  s.release('peer', 3)
  assert.deepEqual([...s.want('seed', 0, { strict: true }).indices()], [0, 1, 2], 'piece 3 is left to the partial holder')
  assert.deepEqual([...s.want('seed', 0).indices()], [0, 1, 2, 3])
})

test('the endgame doubles only requests older than the given age', () => {
  const s = new PieceScheduler({ count: 1 })
  s.setPeer('a', 'all')
  s.setPeer('b', 'all')
  assert.equal(s.assign('a', { now: 1000 }), 0)
  assert.equal(s.assign('b', { endgameAfterMs: 500, now: 1200 }), undefined, 'the first request is young')
  assert.equal(s.assign('b', { endgameAfterMs: 500, now: 1600 }), 0, 'now it is late: ask another peer too')
  assert.equal(s.soleFetcher('a', 0), false)
})

test('with nobody to trade with, ties go to the lowest piece (in order)', () => {
  const s = new PieceScheduler({ count: 6, random: () => 0 })
  s.setPeer('seed', 'all')
  assert.deepEqual([1, 2, 3].map(() => s.assign('seed', { inOrder: true })), [0, 1, 2])
})
