/**
 * Waiting on a socket under a timeout and an AbortSignal: every network wait of the lane goes through these two,
 * so none can hang (docs/protocol.md §6).
 */
import type { EventEmitter } from 'node:events'

export interface SettleHooks {
  /** Runs on timeout; returns the error to reject with. */
  onTimeout: () => Error
  /** Runs when the signal aborts (the promise then rejects with the signal's reason). */
  onAbort: () => void
}

/** `promise`, or a rejection after `timeoutMs` or when `signal` aborts, whichever comes first. */
export async function settle<T> (promise: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined, hooks: SettleHooks): Promise<T> {
  signal?.throwIfAborted()
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(hooks.onTimeout()) }, timeoutMs)
    onAbort = () => {
      hooks.onAbort()
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, stop])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    // The loser of the race must not surface as an unhandled rejection.
    promise.catch(() => {})
    stop.catch(() => {})
  }
}

/** Resolves on `event`; rejects on 'error', on 'close', after `timeoutMs`, or when `signal` aborts. */
export async function waitForEvent (emitter: EventEmitter, event: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  let cleanup = (): void => {}
  const happened = new Promise<void>((resolve, reject) => {
    const onEvent = (): void => { resolve() }
    const onError = (err: Error): void => { reject(err) }
    const onClose = (): void => { reject(new Error(`closed before ${event}`)) }
    emitter.once(event, onEvent)
    emitter.once('error', onError)
    emitter.once('close', onClose)
    cleanup = () => {
      emitter.off(event, onEvent)
      emitter.off('error', onError)
      emitter.off('close', onClose)
    }
  })
  try {
    await settle(happened, timeoutMs, signal, { onTimeout: () => new Error(`no ${event} within ${timeoutMs} ms`), onAbort: () => {} })
  } finally {
    cleanup()
  }
}
