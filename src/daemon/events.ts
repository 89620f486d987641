/** Turns a callback-reporting operation into an async generator of its events, ending with its result. */

export async function * eventsOf<E, R> (run: (emit: (event: E) => void) => Promise<R>): AsyncGenerator<E, R> {
  const queue: E[] = []
  let wake: (() => void) | undefined
  let settled: { ok: true, value: R } | { ok: false, error: unknown } | undefined
  const promise = run(event => {
    queue.push(event)
    wake?.()
  }).then(value => { settled = { ok: true, value } }, (error: unknown) => { settled = { ok: false, error } })
    .finally(() => wake?.())
  while (true) {
    while (queue.length > 0) yield queue.shift() as E
    if (settled !== undefined) break
    await new Promise<void>(resolve => { wake = resolve })
    wake = undefined
  }
  await promise
  if (!settled.ok) throw settled.error
  return settled.value
}
