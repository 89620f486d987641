/** Peer classes of the byte counters: who resolves tags, who may connect, everyone else. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { peerClassifier } from '../../../src/metrics/sources.ts'

test('trusted peers, then the rest of the allow-list, then others; without trusted peers the allow-list is trusted', () => {
  const classOf = peerClassifier(['T'], ['T', 'A'])
  assert.deepEqual(['T', 'A', 'X'].map(classOf), ['trusted', 'allowed', 'other'])
  assert.deepEqual(['A', 'X'].map(peerClassifier([], ['A'])), ['trusted', 'other'])
  assert.equal(peerClassifier([], [])('X'), 'other')
})
