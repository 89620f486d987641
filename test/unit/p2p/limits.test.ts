import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyedSemaphore, Semaphore, TokenBucket, type Clock } from '../../../src/p2p/protocol/limits.ts'

/** Lets every promise that can settle now settle: all pending microtasks run before a macrotask. */
async function settle (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

/** Whether `promise` has settled, after everything that could settle it now has run. */
async function isSettled (promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  promise.then(() => { settled = true }, () => { settled = true })
  await settle()
  return settled
}

/** A clock that moves only when the bucket sleeps: every sleep is recorded and passes at once. */
function fakeClock (): Clock & { slept: number[], time: number } {
  const clock = {
    time: 0,
    slept: [] as number[],
    now: () => clock.time,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted()
      clock.slept.push(ms)
      clock.time += ms
    }
  }
  return clock
}

test('a semaphore admits `limit` holders and queues the rest in order', async () => {
  const s = new Semaphore(2)
  const r1 = await s.acquire()
  const r2 = await s.acquire()
  const order: number[] = []
  const third = s.acquire().then(r => { order.push(3); return r })
  const fourth = s.acquire().then(r => { order.push(4); return r })
  assert.equal(s.queued, 2)
  assert.equal(await isSettled(third), false, 'the third waits while two hold')
  r1()
  r1()
  const r3 = await third
  assert.equal(await isSettled(fourth), false, 'releasing twice frees one slot only')
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
  const pending = k.acquire('a')
  const b = k.acquire('b')
  assert.equal(await isSettled(pending), false, 'a second holder of key a waits')
  assert.equal(await isSettled(b), true, 'key b is not held up by key a')
  a()
  const second = await pending
  const third = k.acquire('a')
  assert.equal(await isSettled(third), false, 'key a is limited again once re-acquired')
  second()
  ;(await third)()
  ;(await b)()
})

test('a keyed semaphore refuses waiters past its queue per key', async () => {
  const k = new KeyedSemaphore(1, 1)
  const a = await k.acquire('a')
  const queued = k.acquire('a')
  await assert.rejects(k.acquire('a'), { name: 'QueueFullError' })
  ;(await k.acquire('b'))()
  a()
  ;(await queued)()
})

test('a token bucket lets a burst through and makes the next taker wait off the debt at its rate', async () => {
  const clock = fakeClock()
  const bucket = new TokenBucket(1000, 1000, clock)
  await bucket.take(1500)
  assert.deepEqual(clock.slept, [], 'a full bucket passes a burst larger than itself at once')
  await bucket.take(10)
  // 500 bytes of debt at 1000 bytes/s: half a second.
  assert.deepEqual(clock.slept, [500])
  await bucket.take(10)
  assert.deepEqual(clock.slept, [500, 10], 'the 10 bytes taken after the debt are waited off in turn')
})

test('a token bucket refills at its rate while idle, up to its burst', async () => {
  const clock = fakeClock()
  const bucket = new TokenBucket(2000, 1000, clock)
  await bucket.take(1000)
  clock.time += 250
  await bucket.take(600)
  // 250 ms at 2000 bytes/s put back 500 bytes: 100 bytes of debt, waited off in 50 ms.
  await bucket.take(1)
  assert.deepEqual(clock.slept, [50])
  clock.time += 60_000
  await bucket.take(1000)
  await bucket.take(1)
  assert.deepEqual(clock.slept, [50], 'a long idle fills the bucket to its burst, no more')
  await bucket.take(1)
  assert.deepEqual(clock.slept, [50, 1])
})

test('a wait on the bucket is abortable', async () => {
  const bucket = new TokenBucket(1000, 1000)
  await bucket.take(1500)
  const controller = new AbortController()
  const waiting = bucket.take(10, controller.signal)
  controller.abort(new Error('stop'))
  await assert.rejects(waiting, /stop/)
  assert.throws(() => new TokenBucket(0), RangeError)
})
