/**
 * The whole P2P subsystem as the daemon wires it: the libp2p node, the blob exchange, routing (connected-peer
 * fast path + DHT) and the puller, started and stopped together. The daemon tells it about blobs that appear
 * or disappear by other means than a pull (import, GC) so that what the node advertises stays true.
 */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Digest } from '../oci/digest.ts'
import type { Store } from '../store/store.ts'
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import type { BlobPullOptions, BlobPullResult } from './pulling/blob-pull.ts'
import { DhtRouting, type DhtRoutingInit } from './routing/dht-routing.ts'
import { wholePieceSize } from './pulling/direct-pull.ts'
import { Exchange, type ExchangeInit } from './exchange.ts'
import { loadOrCreateIdentity } from './node/identity.ts'
import type { ImagePullResult, PullImageOptions } from './pulling/image-pull.ts'
import { hostOf } from './lane/index.ts'
import { createNode, parseTcpAddress, type EmergenceNode, type NodeInit } from './node/node.ts'
import { PeerExchangeRouting } from './routing/pex-routing.ts'
import { Puller, type PullerInit } from './pulling/puller.ts'
import { FallbackRouting, type Routing } from './routing/routing.ts'
import { CountedRouting } from './routing/counted-routing.ts'
import type { TransferCounters } from './stats.ts'

export interface P2PInit extends Omit<NodeInit, 'logger'> {
  store: Store
  /** Upload / download limits in bytes per second. */
  uploadRate?: number
  downloadRate?: number
  /** Peer ids whose RESOLVE answers for a tag are trusted; empty: the allow-listed peers; neither: nobody. */
  trustedPeers?: string[]
  exchange?: Omit<ExchangeInit, 'uploadRate' | 'downloadRate' | 'logger'>
  puller?: Omit<PullerInit, 'trustedPeers' | 'allowList' | 'logger'>
  dht?: Omit<DhtRoutingInit, 'logger'>
  logger?: Logger
}

export class P2P {
  readonly node: EmergenceNode
  readonly exchange: Exchange
  readonly dht: DhtRouting
  readonly routing: Routing
  readonly puller: Puller
  private readonly store: Store
  private readonly logger: Logger
  /** Piece lists computed for added blobs, one at a time. */
  private listing: Promise<void> = Promise.resolve()
  private stopping = false

  private constructor (node: EmergenceNode, identity: PrivateKey, init: P2PInit) {
    this.node = node
    this.store = init.store
    this.logger = init.logger ?? silentLogger
    this.exchange = new Exchange({ node, store: init.store, identity }, {
      ...init.exchange,
      // The lane listens where libp2p does, and admits the same peers as the connection gater.
      lanes: {
        host: hostOf(init.listen?.[0] ?? '') ?? '0.0.0.0',
        allowList: new Set((init.allowList ?? []).map(id => peerIdFromString(id).toString())),
        ...init.exchange?.lanes
      },
      ...(init.uploadRate !== undefined ? { uploadRate: init.uploadRate } : {}),
      ...(init.downloadRate !== undefined ? { downloadRate: init.downloadRate } : {}),
      logger: this.logger
    })
    this.dht = new DhtRouting({ contentRouting: node.contentRouting, peerId: node.peerId }, { ...init.dht, logger: this.logger })
    const pex = new PeerExchangeRouting({ getPeers: () => node.getPeers(), client: this.exchange.client, peerId: node.peerId, learn: entry => this.exchange.learnPeer(entry) })
    // Counted for the metrics: lookups and their latency (stats.ts).
    this.routing = new CountedRouting(new FallbackRouting(pex, this.dht), this.exchange.stats)
    this.puller = new Puller({ store: init.store, exchange: this.exchange, routing: this.routing, node }, {
      ...init.puller,
      ...(init.trustedPeers !== undefined ? { trustedPeers: init.trustedPeers } : {}),
      ...(init.allowList !== undefined ? { allowList: init.allowList } : {}),
      logger: this.logger
    })
  }

  /** Creates the node (identity, listeners, DHT) and starts serving. */
  static async create (init: P2PInit): Promise<P2P> {
    const node = await createNode({ ...init, ...(init.logger !== undefined ? { logger: init.logger } : {}) })
    try {
      // The key file exists now (createNode made it): the data lane's certificate is signed with it.
      const p2p = new P2P(node, await loadOrCreateIdentity(init.identityDir), init)
      await p2p.exchange.start()
      p2p.dht.start()
      return p2p
    } catch (err) {
      await node.stop()
      throw err
    }
  }

  get peerId (): PeerId {
    return this.node.peerId
  }

  /** Listen addresses with `/p2p/<id>`, for other nodes' bootstrap lists. */
  get addresses (): string[] {
    return this.node.getMultiaddrs().map(String)
  }

  /** Connects to a peer by address (`/ip4/<ip>/tcp/<port>[/p2p/<id>]`); returns its peer id. */
  async dial (address: string, options: { signal?: AbortSignal } = {}): Promise<PeerId> {
    const connection = await this.node.dial(parseTcpAddress(address), { signal: options.signal ?? AbortSignal.timeout(10_000) })
    return connection.remotePeer
  }

  /** Announces every blob in the store (call once after start: DHT records do not survive a restart). */
  async announceAll (): Promise<number> {
    let count = 0
    for await (const digest of this.store.blobs.list()) {
      this.blobAdded(digest)
      count++
    }
    return count
  }

  /**
   * A blob entered the store by other means than a pull (import, build): announce it, and compute its piece list
   * now rather than when the first pullers ask for it and wait (hashing 1 GiB takes most of a second). A blob that
   * one GET carries whole (direct-pull.ts; a NAR of a shared closure, a manifest) gets no list ahead: closure pulls
   * never ask for one, a puller that does (an image layer of a few MiB) waits milliseconds for the hash, and a
   * closure of thousands of paths would otherwise be hashed a second time right after `share` hashed it.
   */
  blobAdded (digest: Digest): void {
    void this.routing.provide(digest).catch(err => { this.logger.debug(`announce of ${digest} failed: ${describeError(err)}`) })
    this.listing = this.listing.then(async () => {
      if (this.stopping) return
      const info = await this.store.blobs.stat(digest)
      if (info !== undefined && wholePieceSize(info.size) === undefined) await this.exchange.holdings.pieceList(digest)
    }).catch(err => {
      this.logger.debug(`piece list of ${digest} failed: ${describeError(err)}`)
    })
  }

  /** A blob left the store (GC, delete): stop announcing it and drop its piece list sidecar. */
  async blobRemoved (digest: Digest): Promise<void> {
    this.exchange.holdings.forget(digest)
    await this.exchange.holdings.pieceLists.delete(digest)
    await this.routing.withdraw(digest).catch(err => { this.logger.debug(`withdraw of ${digest} failed: ${describeError(err)}`) })
  }

  async pullImage (ref: string, options?: PullImageOptions): Promise<ImagePullResult> {
    return await this.puller.pullImage(ref, options)
  }

  async pullBlob (descriptor: { digest: Digest, size?: number }, options?: BlobPullOptions): Promise<BlobPullResult> {
    return await this.puller.pullBlob(descriptor, options)
  }

  /** Bytes served and received per peer since start. */
  counters (): TransferCounters {
    return this.exchange.stats.snapshot()
  }

  async stop (): Promise<void> {
    this.stopping = true
    await this.listing
    this.dht.stop()
    await this.exchange.stop()
    await this.node.stop()
  }
}
