/**
 * The puller: `pullBlob` fetches one blob from every peer that has it (blob-pull.ts), `pullImage` resolves a
 * reference and fetches an image's blobs (image-pull.ts), `resolveTag` asks the trusted peers what a tag points
 * at. Concurrent pulls of the same blob share one transfer (shared-pull.ts). Peers that serve bad pieces or lying
 * piece lists are banned for the puller's lifetime.
 *
 * Whom a tag is taken from (docs/protocol.md §4.4): the configured trusted peers; without them, the allow-listed
 * peers (in a cluster with an allow-list, membership is the trust); with neither, nobody (UntrustedTagError).
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Digest } from '../../oci/digest.ts'
import type { Platform } from '../../oci/types.ts'
import type { Lease } from '../../store/leases.ts'
import type { Store } from '../../store/store.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import { BlobPull, type BlobPullOptions, type BlobPullResult } from './blob-pull.ts'
import { DeferredAnnouncer } from '../routing/deferred-announcer.ts'
import { canPullDirect, pullDirect } from './direct-pull.ts'
import { InvalidP2PConfigError, UntrustedTagError } from '../errors.ts'
import type { Exchange } from '../exchange.ts'
import { pullImage, type ImagePullResult, type PullImageOptions } from './image-pull.ts'
import { BanList, DEFAULT_PULL_CONFIG, type PullConfig } from './pull-state.ts'
import { resolveAgreed, resolveFromPeers, type ResolveContext, type Resolution } from './resolve.ts'
import { SharedPulls } from './shared-pull.ts'
import type { Routing } from '../routing/routing.ts'

export interface PullerInit extends Partial<PullConfig> {
  /** Peer ids whose answers to RESOLVE for a tag are accepted; empty: the allow-listed peers. */
  trustedPeers?: string[]
  /** The node's allow-list: without trusted peers, its members resolve tags; empty: nobody does. */
  allowList?: string[]
  /** How long to wait for RESOLVE answers. @default 3 s */
  resolveTimeoutMs?: number
  /** Blobs of one image pulled at once. @default 3 */
  parallelBlobs?: number
  /** The platform picked from an image index. @default the host's */
  platform?: Platform
  logger?: Logger
}

export interface PullerComponents {
  store: Store
  exchange: Pick<Exchange, 'client' | 'holdings' | 'learnPeer' | 'pieceSizeFor' | 'stats'>
  routing: Routing
  node: { peerId: PeerId, getPeers: () => PeerId[] }
}

export class Puller {
  readonly bans = new BanList()
  readonly store: Store
  readonly parallelBlobs: number
  readonly platform: Platform | undefined
  readonly logger: Logger
  private readonly components: PullerComponents
  private readonly config: PullConfig
  private readonly trusted: PeerId[]
  private readonly allowed: PeerId[]
  private readonly resolveTimeoutMs: number
  private readonly shared: SharedPulls
  /** Announces the blobs fetched whole once their batch is over (deferred-announcer.ts). */
  private readonly announcer: DeferredAnnouncer

  constructor (components: PullerComponents, init: PullerInit = {}) {
    this.components = components
    this.store = components.store
    const { trustedPeers, allowList, resolveTimeoutMs, parallelBlobs, platform, logger, ...config } = init
    this.config = { ...DEFAULT_PULL_CONFIG, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) }
    this.trusted = peerIds(trustedPeers, 'trusted peer')
    this.allowed = peerIds(allowList, 'allow-list entry')
    this.shared = new SharedPulls(async () => await this.store.createLease())
    this.resolveTimeoutMs = resolveTimeoutMs ?? 3_000
    this.parallelBlobs = parallelBlobs ?? 3
    this.platform = platform
    this.logger = logger ?? silentLogger
    this.announcer = new DeferredAnnouncer(async digest => { await components.routing.provide(digest) }, this.logger)
  }

  /**
   * Fetches `descriptor.digest` into the store (verified, committed under `options.lease`) unless it is there.
   * Without a size, the size the holders report is used, up to `options.maxSize`.
   */
  async pullBlob (descriptor: { digest: Digest, size?: number }, options: BlobPullOptions = {}): Promise<BlobPullResult> {
    const { signal, lease, ...rest } = options
    const start = async (shared: Lease, own: AbortSignal): Promise<BlobPullResult> => {
      const direct = await this.tryDirect(descriptor, rest, shared, own)
      if (direct !== undefined) return direct
      const components = { ...this.components, self: this.components.node.peerId, bans: this.bans, logger: this.logger }
      const pull = new BlobPull(components, this.config, descriptor, { ...rest, lease: shared, signal: own })
      try {
        return await pull.run()
      } catch (err) {
        // The pull announced the blob at its first piece; nothing serves it now (a resumed pull announces again).
        if (!await this.store.blobs.has(descriptor.digest)) {
          void this.components.routing.withdraw(descriptor.digest).catch(() => {})
        }
        throw err
      } finally {
        await pull.close()
      }
    }
    const { result, joined } = await this.shared.join(descriptor.digest, start, { ...(signal !== undefined ? { signal } : {}), ...(lease !== undefined ? { lease } : {}) })
    return joined ? { ...result, alreadyPresent: true, fetchedBytes: 0, fromPeers: {} } : result
  }

  /** Blob transfers running now (concurrent pulls of one blob share one). */
  get inFlight (): number {
    return this.shared.size
  }

  /**
   * Runs `fn` as one batch (a closure's NARs, say): the DHT announcements of blobs fetched whole meanwhile wait
   * until it is over (deferred-announcer.ts), so that they do not compete with the batch for the CPU.
   */
  async batch<T> (fn: () => Promise<T>): Promise<T> {
    return await this.announcer.during(fn)
  }

  /** With `direct`, the blob fetched whole from its providers (direct-pull.ts); undefined when none served it. */
  private async tryDirect (descriptor: { digest: Digest, size?: number }, options: BlobPullOptions, lease: Lease, signal: AbortSignal): Promise<BlobPullResult | undefined> {
    const { digest, size } = descriptor
    const providers = options.providers ?? []
    if (options.direct !== true || size === undefined || providers.length === 0 || !canPullDirect(digest, size)) return undefined
    if (await this.store.blobs.has(digest)) return undefined
    const context = { client: this.components.exchange.client, stats: this.components.exchange.stats, store: this.store, isBanned: (p: string) => this.bans.isBanned(p), ban: (p: string, reason: string) => { this.ban(p, reason) }, logger: this.logger }
    const peer = await this.announcer.during(async () => await pullDirect(context, { digest, size, providers, signal, lease }))
    if (peer === undefined) return undefined
    options.onStart?.(size, 0)
    options.onPiece?.(peer, size)
    this.announcer.add(digest)
    return { digest, size, alreadyPresent: false, resumedBytes: 0, fetchedBytes: size, fromPeers: { [peer]: size } }
  }

  private ban (peer: string, reason: string): void {
    if (this.bans.ban(peer, reason)) this.logger.warn(`banned peer ${peer}: ${reason}`)
  }

  /**
   * Resolves `name:tag` with the peers trusted for tags: every one that knows it must agree (resolve.ts).
   * UntrustedTagError when the node trusts nobody.
   */
  async resolveTag (ref: string, options: { signal?: AbortSignal } = {}): Promise<Resolution> {
    const self = this.components.node.peerId
    let candidates = this.trusted
    if (candidates.length === 0) {
      const connected = new Set(this.components.node.getPeers().map(String))
      candidates = this.allowed.filter(p => connected.has(p.toString()))
      if (this.allowed.length === 0) throw new UntrustedTagError(ref)
    }
    return await resolveAgreed(ref, this.resolveContext(candidates.filter(p => !p.equals(self)), options.signal))
  }

  /**
   * Resolves a Nix path record ref with every connected peer, the majority first (resolve.ts): records carry
   * their own signatures and hashes, which the Nix side checks.
   */
  async resolve (ref: string, options: { signal?: AbortSignal } = {}): Promise<Resolution> {
    const self = this.components.node.peerId
    const candidates = this.trusted.length > 0 ? this.trusted : this.components.node.getPeers()
    return await resolveFromPeers(ref, this.resolveContext(candidates.filter(p => !p.equals(self)), options.signal))
  }

  /** Pulls an image by `name:tag`, `name@digest`, `name:tag@digest` or a bare digest (image-pull.ts). */
  async pullImage (ref: string, options: PullImageOptions = {}): Promise<ImagePullResult> {
    return await pullImage(this, ref, options)
  }

  private resolveContext (candidates: PeerId[], signal: AbortSignal | undefined): ResolveContext {
    return {
      client: this.components.exchange.client,
      candidates: candidates.filter(p => !this.bans.isBanned(p.toString())),
      timeoutMs: this.resolveTimeoutMs,
      logger: this.logger,
      ...(signal !== undefined ? { signal } : {})
    }
  }
}

function peerIds (ids: string[] | undefined, what: string): PeerId[] {
  return (ids ?? []).map(id => {
    try {
      return peerIdFromString(id)
    } catch {
      throw new InvalidP2PConfigError(`${what} ${JSON.stringify(id)} is not a peer id`)
    }
  })
}
