/**
 * Bounded resources (docs/protocol.md §6): a counting semaphore with a bounded wait queue for
 * concurrency limits, and a token bucket for byte-rate limits. Both take an AbortSignal on every wait.
 */
import { Semaphore as BaseSemaphore } from '../../util/semaphore.ts'
import { QueueFullError } from '../errors.ts'

/** The shared semaphore (util/semaphore.ts) refusing waiters past `maxQueue` with QueueFullError (BUSY). */
export class Semaphore extends BaseSemaphore {
  constructor (limit: number, maxQueue = Infinity) {
    super(limit, { maxQueue, queueFull: max => new QueueFullError(max) })
  }
}

/** One semaphore per key (per peer), created on demand and dropped when idle. */
export class KeyedSemaphore {
  private readonly limit: number
  private readonly maxQueue: number
  private readonly byKey = new Map<string, Semaphore>()

  constructor (limit: number, maxQueue = Infinity) {
    this.limit = limit
    this.maxQueue = maxQueue
  }

  async acquire (key: string, signal?: AbortSignal): Promise<() => void> {
    let semaphore = this.byKey.get(key)
    if (semaphore === undefined) {
      semaphore = new Semaphore(this.limit, this.maxQueue)
      this.byKey.set(key, semaphore)
    }
    const held = semaphore
    let release: () => void
    try {
      release = await held.acquire(signal)
    } catch (err) {
      this.dropIfIdle(key, held)
      throw err
    }
    return () => {
      release()
      this.dropIfIdle(key, held)
    }
  }

  private dropIfIdle (key: string, semaphore: Semaphore): void {
    if (semaphore.inUse === 0 && semaphore.queued === 0 && this.byKey.get(key) === semaphore) this.byKey.delete(key)
  }
}

/**
 * A token bucket of `rate` bytes per second holding at most `burst` bytes. `take(n)` waits while the bucket is
 * in debt, then takes n (it may go negative), so a piece larger than the burst still passes and the average
 * rate holds. Waiters are served in order.
 */
export class TokenBucket {
  readonly rate: number
  private readonly burst: number
  private tokens: number
  private last: number
  private queue: Promise<void> = Promise.resolve()
  private readonly clock: Clock

  constructor (rate: number, burst = rate, clock: Clock = REAL_CLOCK) {
    if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`)
    this.rate = rate
    this.burst = Math.max(1, burst)
    this.tokens = this.burst
    this.clock = clock
    this.last = clock.now()
  }

  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => { await this.waitAndTake(bytes, signal) })
    this.queue = turn.catch(() => {})
    await turn
  }

  private refill (): void {
    const now = this.clock.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
    this.last = now
  }

  private async waitAndTake (bytes: number, signal?: AbortSignal): Promise<void> {
    this.refill()
    while (this.tokens < 0) {
      signal?.throwIfAborted()
      await this.clock.sleep(Math.ceil(-this.tokens * 1000 / this.rate), signal)
      this.refill()
    }
    this.tokens -= bytes
  }
}

/** Time as the token bucket sees it: milliseconds, and a wait that an AbortSignal cancels (tests pass a fake). */
export interface Clock {
  now: () => number
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>
}

const REAL_CLOCK: Clock = { now: () => performance.now(), sleep: async (ms, signal) => { await sleep(ms, signal) } }

/** setTimeout as a promise that an AbortSignal cancels. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
