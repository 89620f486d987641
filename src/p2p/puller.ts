/**
 * The puller: `pullBlob` fetches one blob from every peer that has it (blob-pull.ts), `pullImage` resolves a
 * reference and fetches an image's blobs (image-pull.ts), `resolve` asks trusted peers what a tag points at.
 * Concurrent pulls of the same blob share one transfer. Peers that serve bad pieces or lying piece lists are
 * banned for the puller's lifetime.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Digest } from '../oci/digest.ts'
import type { Platform } from '../oci/types.ts'
import type { Store } from '../store/store.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { BlobPull, type BlobPullOptions, type BlobPullResult } from './blob-pull.ts'
import { InvalidP2PConfigError } from './errors.ts'
import type { Exchange } from './exchange.ts'
import { pullImage, type ImagePullResult, type PullImageOptions } from './image-pull.ts'
import { BanList, DEFAULT_PULL_CONFIG, type PullConfig } from './pull-state.ts'
import { resolveFromPeers, type Resolution } from './resolve.ts'
import type { Routing } from './routing.ts'

export interface PullerInit extends Partial<PullConfig> {
  /** Peer ids whose answers to RESOLVE are accepted; empty: any connected (allow-listed) peer. */
  trustedPeers?: string[]
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
  exchange: Pick<Exchange, 'client' | 'holdings' | 'learnPeer' | 'pieceSizeFor'>
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
  private readonly resolveTimeoutMs: number
  private readonly running = new Map<Digest, Promise<BlobPullResult>>()

  constructor (components: PullerComponents, init: PullerInit = {}) {
    this.components = components
    this.store = components.store
    const { trustedPeers, resolveTimeoutMs, parallelBlobs, platform, logger, ...config } = init
    this.config = { ...DEFAULT_PULL_CONFIG, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) }
    this.trusted = (trustedPeers ?? []).map(id => {
      try {
        return peerIdFromString(id)
      } catch {
        throw new InvalidP2PConfigError(`trusted peer ${JSON.stringify(id)} is not a peer id`)
      }
    })
    this.resolveTimeoutMs = resolveTimeoutMs ?? 3_000
    this.parallelBlobs = parallelBlobs ?? 3
    this.platform = platform
    this.logger = logger ?? silentLogger
  }

  /**
   * Fetches `descriptor.digest` into the store (verified, committed under `options.lease`) unless it is there.
   * Without a size, the size the holders report is used, up to `options.maxSize`.
   */
  async pullBlob (descriptor: { digest: Digest, size?: number }, options: BlobPullOptions = {}): Promise<BlobPullResult> {
    const running = this.running.get(descriptor.digest)
    if (running !== undefined) {
      const result = await running
      await options.lease?.add(descriptor.digest)
      return { ...result, alreadyPresent: true, fetchedBytes: 0, fromPeers: {} }
    }
    const components = { ...this.components, self: this.components.node.peerId, bans: this.bans, logger: this.logger }
    const pull = new BlobPull(components, this.config, descriptor, options)
    const work = (async () => {
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
    })()
    this.running.set(descriptor.digest, work)
    try {
      return await work
    } finally {
      this.running.delete(descriptor.digest)
    }
  }

  /** Resolves `name:tag` with the trusted peers (resolve.ts). */
  async resolve (ref: string, options: { signal?: AbortSignal } = {}): Promise<Resolution> {
    const self = this.components.node.peerId
    const candidates = this.trusted.length > 0 ? this.trusted : this.components.node.getPeers()
    return await resolveFromPeers(ref, {
      client: this.components.exchange.client,
      candidates: candidates.filter(p => !p.equals(self) && !this.bans.isBanned(p.toString())),
      timeoutMs: this.resolveTimeoutMs,
      logger: this.logger,
      ...(options.signal !== undefined ? { signal: options.signal } : {})
    })
  }

  /** Pulls an image by `name:tag`, `name@digest`, `name:tag@digest` or a bare digest (image-pull.ts). */
  async pullImage (ref: string, options: PullImageOptions = {}): Promise<ImagePullResult> {
    return await pullImage(this, ref, options)
  }
}
