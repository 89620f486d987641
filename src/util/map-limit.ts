/**
 * Bounded concurrency over a list: the blobs of an image, the records and NARs of a closure, a few at a time (a
 * queue of tasks started as slots free is semaphore.ts).
 */

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
