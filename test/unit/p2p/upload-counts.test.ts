import { test } from 'node:test'
import assert from 'node:assert/strict'
import { UploadCounts } from '../../../src/p2p/upload-counts.ts'

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
