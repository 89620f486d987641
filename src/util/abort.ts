/** Waiting on shared work with one caller's AbortSignal: the caller stops waiting, the work goes on for the others. */

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts (the work itself goes on). */
export async function untilAborted<T> (work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await work
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
