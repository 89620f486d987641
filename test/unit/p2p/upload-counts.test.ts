import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Bitfield } from '../../../src/p2p/pieces/bitfield.ts'
import { UploadCounts } from '../../../src/p2p/serving/upload-counts.ts'

test('a holder hints at the pieces it has not sent recently', () => {
  const counts = new UploadCounts(1000)
  assert.equal(counts.suggest('d', 16, 3, 0), undefined, 'nothing sent: no preference')
  counts.note('d', 16, 3, 1, 100)
  assert.deepEqual([...(counts.suggest('d', 16, 3, 200)?.indices() ?? [])], [0, 2])
  counts.note('d', 16, 3, 0, 200)
  counts.note('d', 16, 3, 2, 200)
  assert.deepEqual([...(counts.suggest('d', 16, 3, 300)?.indices() ?? [])], [], 'all out: fetch from the peers that got them')
  assert.equal(counts.suggest('d', 16, 3, 5000), undefined, 'long ago: no preference again')
  assert.equal(counts.suggest('d', 32, 2, 300), undefined, 'another cut is another blob')
})

test('a piece sent recently is deferred once per requester, and only while fresh ones remain', () => {
  const counts = new UploadCounts(1000)
  counts.note('d', 16, 3, 1, 100)
  assert.equal(counts.defer('d', 16, 3, 0, 'a', 150), false, 'never sent')
  assert.equal(counts.defer('d', 16, 3, 1, 'a', 150), true)
  assert.equal(counts.defer('d', 16, 3, 1, 'a', 160), false, 'asked again: served')
  assert.equal(counts.defer('d', 16, 3, 1, 'b', 160), true)
  counts.note('d', 16, 3, 0, 170)
  counts.note('d', 16, 3, 2, 170)
  assert.equal(counts.defer('d', 16, 3, 1, 'c', 180), false, 'nothing fresher to offer')
  assert.equal(counts.defer('d', 16, 3, 1, 'd', 5000), false, 'sent long ago')
})

test('offered other pieces, a holder sends the one it sent least, the asked one on a tie', () => {
  const counts = new UploadCounts(1000)
  const want = Bitfield.full(4)
  assert.equal(counts.pick('d', 16, 4, 2, want, undefined, 100), 2, 'nothing sent yet: the piece asked for')
  assert.equal(counts.pick('d', 16, 4, 2, want, undefined, 110), 0, 'piece 2 went out once: a piece never sent')
  assert.equal(counts.pick('d', 16, 4, 2, want, undefined, 120), 1)
  assert.equal(counts.pick('d', 16, 4, 0, want, undefined, 130), 3)
  assert.equal(counts.pick('d', 16, 4, 3, want, undefined, 140), 2, 'all sent once: the one sent longest ago')
  const only = new Bitfield(4)
  only.set(1)
  assert.equal(counts.pick('d', 16, 4, 1, only, undefined, 150), 1, 'nothing else offered')
  const has = new Bitfield(4)
  has.set(3)
  assert.equal(counts.pick('e', 16, 4, 0, want, has, 160), 3, 'a partial holder sends what it has')
  assert.equal(counts.pick('e', 16, 4, 0, only, has, 170), undefined, 'and nothing it lacks')
})
