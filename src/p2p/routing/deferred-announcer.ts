/**
 * DHT announcements of blobs fetched in a batch (direct-pull.ts), held back while the batch runs and made one at
 * a time once it is over. A DHT announcement costs a lookup and a few new streams (about as much CPU as moving
 * a 2 MiB NAR over a data lane), and a closure pulls hundreds of NARs a second: announced at once, they took a
 * third of the puller's CPU. Nobody waits for them: pullers of a closure find its holders by RESOLVE among the
 * connected peers (docs/nix.md), and the DHT, a fallback, only needs to learn of the new holder soon.
 */
import type { Digest } from '../../oci/digest.ts'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'

/** How long no batch pull must run before the held-back announcements go out. */
const QUIET_MS = 200

export class DeferredAnnouncer {
  private readonly provide: (digest: Digest) => Promise<void>
  private readonly logger: Logger
  private readonly pending = new Set<Digest>()
  private running = 0
  private draining = false
  private timer: NodeJS.Timeout | undefined

  constructor (provide: (digest: Digest) => Promise<void>, logger: Logger) {
    this.provide = provide
    this.logger = logger
  }

  /** Runs one pull of the batch; announcements wait until no such pull has run for QUIET_MS. */
  async during<T> (fn: () => Promise<T>): Promise<T> {
    this.running++
    try {
      return await fn()
    } finally {
      this.running--
      this.schedule()
    }
  }

  /** Announces `digest` once the batch is over. */
  add (digest: Digest): void {
    this.pending.add(digest)
    this.schedule()
  }

  /** Digests still waiting to be announced (tests). */
  get waiting (): number {
    return this.pending.size
  }

  private schedule (): void {
    if (this.running > 0 || this.draining || this.pending.size === 0) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.drain() }, QUIET_MS)
    this.timer.unref()
  }

  private async drain (): Promise<void> {
    if (this.running > 0 || this.draining) return
    this.draining = true
    try {
      for (const digest of this.pending) {
        if (this.running > 0) break
        this.pending.delete(digest)
        await this.provide(digest).catch(err => { this.logger.debug(`announce of ${digest} failed: ${describeError(err)}`) })
      }
    } finally {
      this.draining = false
      this.schedule()
    }
  }
}
