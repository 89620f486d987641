import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BufferPool } from '../../../src/p2p/serving/buffer-pool.ts'

test('a size that is not a power of two is a view of a pooled buffer, given back and handed out again', () => {
  const pool = new BufferPool(4)
  const size = 2 * 1024 * 1024 + 1234 // a NAR of a few MiB fetched whole
  const first = pool.take(size)
  assert.equal(first.byteLength, size)
  first.fill(7)
  pool.give(first)
  const second = pool.take(size)
  assert.equal(second.byteLength, size)
  assert.equal(second.buffer, first.buffer, 'the same memory, not a fresh allocation')
  // A buffer of the pooled size itself shares that memory too; the view was given back, so nobody holds it twice.
  pool.give(second)
  assert.equal(pool.take(4 * 1024 * 1024).buffer, first.buffer)
})

test('buffers are given back once: a second give, or a buffer the pool never handed out, is ignored', () => {
  const pool = new BufferPool(4)
  const a = pool.take(1024 * 1024)
  pool.give(a)
  pool.give(a)
  const b = pool.take(1024 * 1024)
  const c = pool.take(1024 * 1024)
  assert.equal(b.buffer, a.buffer)
  assert.notEqual(c.buffer, a.buffer, 'a double give must not hand one buffer to two users')
  pool.give(Buffer.alloc(1024 * 1024))
  assert.notEqual(pool.take(1024 * 1024).buffer, a.buffer)
  // Small sizes are not pooled, and still exactly the size asked for.
  const small = pool.take(1000)
  assert.equal(small.byteLength, 1000)
  pool.give(small)
  assert.notEqual(pool.take(64 * 1024).buffer, small.buffer)
})
