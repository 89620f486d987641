/**
 * Routing over our private Kademlia DHT (`/emergence/kad/1.0.0`, node.ts). A provider record expires on the
 * DHT peers after `providers.provideValidity` (node.ts sets 1 h); this class re-announces every digest it
 * provides every `reannounceMs` (default 15 min, like Spegel), well before expiry, and stops on withdraw.
 * Kademlia has no un-provide: a withdrawn record lingers on remote peers until it expires, so a provider that
 * answers NOT_HAVE is normal and the puller simply moves on.
 */
import type { AbortOptions, ContentRouting, PeerId, Startable } from '@libp2p/interface'
import type { Digest } from '../../oci/digest.ts'
import { describeError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import { digestToCid, type Routing } from './routing.ts'

export const DEFAULT_REANNOUNCE_MS = 15 * 60_000
const PROVIDE_TIMEOUT_MS = 30_000

export interface DhtRoutingInit {
  reannounceMs?: number
  logger?: Logger
}

export interface DhtRoutingComponents {
  contentRouting: ContentRouting
  peerId: PeerId
}

export class DhtRouting implements Routing, Startable {
  private readonly contentRouting: ContentRouting
  private readonly self: PeerId
  private readonly reannounceMs: number
  private readonly logger: Logger
  private readonly provided = new Set<Digest>()
  /** The last announce of each digest: running (`at` undefined) or done at `at`. */
  private readonly announced = new Map<Digest, { at: number | undefined, done: Promise<void> }>()
  private timer: ReturnType<typeof setInterval> | undefined
  private reannouncing = false

  constructor (components: DhtRoutingComponents, init: DhtRoutingInit = {}) {
    this.contentRouting = components.contentRouting
    this.self = components.peerId
    this.reannounceMs = init.reannounceMs ?? DEFAULT_REANNOUNCE_MS
    this.logger = init.logger ?? silentLogger
  }

  start (): void {
    this.timer ??= setInterval(() => { void this.reannounce() }, this.reannounceMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** The digests announced and not withdrawn. */
  get digests (): Digest[] {
    return [...this.provided]
  }

  /**
   * Announces `digest`. A pull announces at its first verified piece and again when it commits, and several
   * pulls may ask at once: a provide already running, or done within half the re-announce interval, is not
   * repeated (each one is a DHT lookup and a message to every close peer).
   */
  async provide (digest: Digest, options: AbortOptions = {}): Promise<void> {
    this.provided.add(digest)
    const recent = this.announced.get(digest)
    if (recent !== undefined && (recent.at === undefined || Date.now() - recent.at < this.reannounceMs / 2)) {
      await recent.done
      return
    }
    await this.announce(digest, options)
  }

  private async announce (digest: Digest, options: AbortOptions = {}): Promise<void> {
    const timeout = AbortSignal.timeout(PROVIDE_TIMEOUT_MS)
    const entry: { at: number | undefined, done: Promise<void> } = { at: undefined, done: Promise.resolve() }
    entry.done = this.contentRouting.provide(digestToCid(digest), { signal: options.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout })
    if (this.announced.size >= 4096) this.announced.clear()
    this.announced.set(digest, entry)
    try {
      await entry.done
      entry.at = Date.now()
    } catch (err) {
      if (this.announced.get(digest) === entry) this.announced.delete(digest)
      throw err
    }
  }

  async withdraw (digest: Digest, options: AbortOptions = {}): Promise<void> {
    this.provided.delete(digest)
    this.announced.delete(digest)
    await this.contentRouting.cancelReprovide(digestToCid(digest), options)
  }

  async * findProviders (digest: Digest, options: AbortOptions = {}): AsyncIterable<PeerId> {
    for await (const provider of this.contentRouting.findProviders(digestToCid(digest), options)) {
      if (!provider.id.equals(this.self)) yield provider.id
    }
  }

  /** Announces every provided digest again, one after another so a large store does not flood the DHT. */
  async reannounce (): Promise<void> {
    if (this.reannouncing) return
    this.reannouncing = true
    try {
      for (const digest of [...this.provided]) {
        if (this.timer === undefined) return
        await this.announce(digest).catch(err => { this.logger.debug(`re-announce of ${digest} failed: ${describeError(err)}`) })
      }
    } finally {
      this.reannouncing = false
    }
  }
}
