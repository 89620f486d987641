/**
 * The one concurrency limiter: a counting semaphore with a FIFO wait queue, optionally bounded, and an
 * AbortSignal on every wait. The P2P exchange limits streams and uploads with it (p2p/protocol/limits.ts adds its BUSY
 * error and a semaphore per key); the local Nix limits its child processes with it.
 */

export interface SemaphoreInit {
  /** Waiters beyond this are refused at once. @default Infinity */
  maxQueue?: number
  /** The error a refused waiter gets. @default a RangeError */
  queueFull?: (maxQueue: number) => Error
}

export class Semaphore {
  readonly limit: number
  private readonly maxQueue: number
  private readonly queueFull: (maxQueue: number) => Error
  private active = 0
  private readonly waiting: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []

  constructor (limit: number, init: SemaphoreInit = {}) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`)
    this.limit = limit
    this.maxQueue = init.maxQueue ?? Infinity
    this.queueFull = init.queueFull ?? (max => new RangeError(`${max} waiters are already queued`))
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
    if (this.waiting.length >= this.maxQueue) throw this.queueFull(this.maxQueue)
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
