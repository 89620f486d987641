/**
 * Bounded resources (design.md "Bounded resources"): a counting semaphore with a bounded wait queue for
 * concurrency limits, and a token bucket for byte-rate limits. Both take an AbortSignal on every wait.
 */
import { QueueFullError } from './errors.ts'

export class Semaphore {
  readonly limit: number
  private readonly maxQueue: number
  private active = 0
  private readonly waiting: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []

  constructor (limit: number, maxQueue = Infinity) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`)
    this.limit = limit
    this.maxQueue = maxQueue
  }

  get inUse (): number {
    return this.active
  }

  get queued (): number {
    return this.waiting.length
  }

  /** Waits for a slot; returns the function that gives it back (idempotent). */
  async acquire (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.active < this.limit) {
      this.active++
      return this.releaser()
    }
    if (this.waiting.length >= this.maxQueue) throw new QueueFullError(this.maxQueue)
    await new Promise<void>((resolve, reject) => {
      const entry = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject
      }
      const onAbort = (): void => {
        const at = this.waiting.indexOf(entry)
        if (at !== -1) this.waiting.splice(at, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(entry)
    })
    return this.releaser()
  }

  async run<T> (fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  private releaser (): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      if (next !== undefined) next.resolve()
      else this.active--
    }
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

  constructor (rate: number, burst = rate) {
    if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`)
    this.rate = rate
    this.burst = Math.max(1, burst)
    this.tokens = this.burst
    this.last = performance.now()
  }

  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => { await this.waitAndTake(bytes, signal) })
    this.queue = turn.catch(() => {})
    await turn
  }

  private refill (): void {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
    this.last = now
  }

  private async waitAndTake (bytes: number, signal?: AbortSignal): Promise<void> {
    this.refill()
    while (this.tokens < 0) {
      signal?.throwIfAborted()
      await sleep(Math.ceil(-this.tokens * 1000 / this.rate), signal)
      this.refill()
    }
    this.tokens -= bytes
  }
}

/** setTimeout as a promise that an AbortSignal cancels. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
