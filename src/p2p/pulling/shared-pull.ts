/**
 * Concurrent pulls of one blob share one transfer (puller.ts), which belongs to none of its callers: it runs
 * under its own AbortController and its own store lease. A caller that gives up (its signal) only stops waiting,
 * unless it is the last: then the transfer is stopped, and the caller returns once it has wound down, so nothing
 * of a cancelled pull still writes to the store afterwards. The lease is released once every caller that stayed
 * has added the blob to its own lease, so GC never sees the blob unreferenced in between.
 */
import type { Digest } from '../../oci/digest.ts'
import type { Lease } from '../../store/leases.ts'
import type { BlobPullResult } from './blob-pull.ts'
import { untilAborted } from '../../util/abort.ts'

export interface SharedPull {
  readonly work: Promise<BlobPullResult>
  readonly controller: AbortController
  callers: number
}

/** Starts a transfer under a fresh lease: `run` gets the lease and the transfer's own signal. */
export type StartPull = (lease: Lease, signal: AbortSignal) => Promise<BlobPullResult>

export class SharedPulls {
  private readonly running = new Map<Digest, SharedPull & { lease: Promise<Lease> }>()
  private readonly createLease: () => Promise<Lease>

  constructor (createLease: () => Promise<Lease>) {
    this.createLease = createLease
  }

  /** Blobs being fetched now. */
  get size (): number {
    return this.running.size
  }

  /**
   * Waits for the blob, starting a transfer unless one runs; `joined` tells that another caller started it.
   * The blob is in `lease` (when given) before this returns.
   */
  async join (digest: Digest, start: StartPull, options: { signal?: AbortSignal, lease?: Lease }): Promise<{ result: BlobPullResult, joined: boolean }> {
    options.signal?.throwIfAborted()
    let shared = this.running.get(digest)
    // A transfer every caller left is winding down: let it finish before starting anew on the same partial.
    if (shared?.controller.signal.aborted === true) {
      await shared.work.catch(() => {})
      shared = this.running.get(digest)
    }
    const joined = shared !== undefined
    shared ??= this.start(digest, start)
    shared.callers++
    try {
      const result = await untilAborted(shared.work, options.signal)
      await options.lease?.add(digest)
      return { result, joined }
    } finally {
      if (--shared.callers === 0) await this.leave(shared)
    }
  }

  private start (digest: Digest, start: StartPull): SharedPull & { lease: Promise<Lease> } {
    const controller = new AbortController()
    const lease = this.createLease()
    const work = (async () => await start(await lease, controller.signal))()
    const shared = { work, controller, callers: 0, lease }
    this.running.set(digest, shared)
    void work.catch(() => {}).finally(() => {
      if (this.running.get(digest) === shared) this.running.delete(digest)
    })
    return shared
  }

  /** The last caller left: stop the transfer if it still runs, wait for it to settle, and drop its lease. */
  private async leave (shared: SharedPull & { lease: Promise<Lease> }): Promise<void> {
    shared.controller.abort(new Error('every pull waiting for this blob was cancelled'))
    await shared.work.catch(() => {})
    await shared.lease.then(async lease => { await lease.release() }, () => {})
  }
}
