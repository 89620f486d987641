/** Bounded concurrency for the network side of Nix: many small records and NARs, a few at a time. */

/** Runs `fn` over `items`, `limit` at a time, started in order; after a failure no new item starts. */
export async function mapLimit<T, R> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const at = next++
      try {
        out[at] = await fn(items[at] as T, at)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return out
}

/** Runs tasks `limit` at a time in the order they were queued (FIFO), each as soon as a slot frees. */
export class Limiter {
  readonly #limit: number
  #running = 0
  readonly #queue: Array<() => void> = []

  constructor (limit: number) {
    this.#limit = Math.max(1, limit)
  }

  async run<T> (task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so a newcomer never jumps the queue.
    if (this.#running >= this.#limit) await new Promise<void>(resolve => { this.#queue.push(resolve) })
    else this.#running++
    try {
      return await task()
    } finally {
      const next = this.#queue.shift()
      if (next !== undefined) next()
      else this.#running--
    }
  }
}
