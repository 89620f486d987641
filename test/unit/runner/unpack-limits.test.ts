/** The unpack limits' defaults: how many bytes an image may unpack to, and the free space kept. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { DEFAULT_MAX_DEPTH, resolveLimits } from '../../../src/runner/unpack-limits.ts'

const MiB = 1024 * 1024

test('an image may unpack to 32 times its compressed size, and to 512 MiB whatever its size', () => {
  assert.equal(resolveLimits({}, 2 * MiB, tmpdir()).maxUnpackedBytes, 512 * MiB, 'a 2 MB layer: not 2 GiB')
  assert.equal(resolveLimits({}, 100 * MiB, tmpdir()).maxUnpackedBytes, 3200 * MiB)
  assert.equal(resolveLimits({}, 0, tmpdir()).maxDepth, DEFAULT_MAX_DEPTH)
})

test('the reserve is 5% of the filesystem, at most 1 GiB', async () => {
  const stats = await statfs(tmpdir())
  const expected = Math.min(1024 * MiB, Math.floor(stats.blocks * stats.bsize * 0.05))
  assert.equal(resolveLimits({}, 0, tmpdir()).minFreeBytes, expected)
})

test('limits given by the caller are kept as they are', () => {
  const given = { maxUnpackedBytes: 10, minFreeBytes: 0, maxDepth: 3 }
  assert.deepEqual(resolveLimits(given, 100 * MiB, tmpdir()), given)
})
