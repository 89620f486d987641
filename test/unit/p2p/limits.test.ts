import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyedSemaphore, Semaphore, TokenBucket } from '../../../src/p2p/limits.ts'

test('a semaphore admits `limit` holders and queues the rest in order', async () => {
  const s = new Semaphore(2)
  const r1 = await s.acquire()
  const r2 = await s.acquire()
  const order: number[] = []
  const third = s.acquire().then(r => { order.push(3); return r })
  const fourth = s.acquire().then(r => { order.push(4); return r })
  assert.equal(s.queued, 2)
  r1()
  r1()
  const r3 = await third
  assert.equal(s.inUse, 2)
  r2()
  const r4 = await fourth
  assert.deepEqual(order, [3, 4])
  r3()
  r4()
  assert.equal(s.inUse, 0)
})

test('waiting is abortable and bounded', async () => {
  const s = new Semaphore(1, 1)
  const release = await s.acquire()
  const controller = new AbortController()
  const waiting = s.acquire(controller.signal)
  await assert.rejects(s.acquire(), { name: 'QueueFullError' })
  controller.abort(new Error('gave up'))
  await assert.rejects(waiting, /gave up/)
  assert.equal(s.queued, 0)
  release()
  assert.equal(s.inUse, 0)
})

test('a keyed semaphore limits each key on its own', async () => {
  const k = new KeyedSemaphore(1)
  const a = await k.acquire('a')
  const b = await k.acquire('b')
  let second = false
  const pending = k.acquire('a').then(r => { second = true; return r })
  await Promise.resolve()
  assert.equal(second, false)
  a()
  ;(await pending)()
  b()
})

test('a token bucket lets a burst through and makes the next taker wait off the debt', async () => {
  const bucket = new TokenBucket(1000, 1000)
  await bucket.take(1500)
  const controller = new AbortController()
  const waiting = bucket.take(10, controller.signal)
  controller.abort(new Error('stop'))
  await assert.rejects(waiting, /stop/)
  assert.throws(() => new TokenBucket(0), RangeError)
})
