/**
 * The blob exchange service (docs/protocol.md): registers the /emergence/blob/1.0.0 handler on start and
 * removes it on stop, serves what `holdings` has, and offers the requesting side (`client`) to the puller and
 * to peer-exchange routing. Counts bytes served and received per peer.
 */
import type { Libp2p, PeerId, PrivateKey, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseReference } from '../oci/reference.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Store } from '../store/store.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import {
  BLOB_PROTOCOL, DEFAULT_IDLE_STREAM_TIMEOUT_MS, DEFAULT_MAX_DOWNLOADS, DEFAULT_MAX_UPLOADS, DEFAULT_MAX_UPLOADS_PER_PEER,
  DEFAULT_PIECE_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, MAX_PEX_ADDRS, MAX_PROTOCOL_STREAMS
} from './constants.ts'
import { ExchangeClient } from './protocol/client.ts'
import type { PexPeer } from './protocol/codec.ts'
import { InvalidP2PConfigError } from './errors.ts'
import { Holdings } from './serving/holdings.ts'
import { InboundStreams, type InboundLoad } from './protocol/inbound.ts'
import { Lanes, type LaneInit } from './lane/index.ts'
import { KeyedSemaphore, Semaphore, TokenBucket } from './protocol/limits.ts'
import { isTcpAddress, parseTcpAddress } from './node/node.ts'
import { choosePieceSize, isValidPieceSize } from './pieces/pieces.ts'
import { serveStream, type ServerContext } from './serving/server.ts'
import { TransferStats } from './stats.ts'

const PEX_CACHE_MS = 10_000

/** The part of a libp2p node the exchange uses. */
export type ExchangeNode = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'peerId' | 'getConnections' | 'peerStore' | 'peerRouting'>

export interface ExchangeInit {
  /** Cut every blob this node lists at this size instead of choosePieceSize(size) (tests use small pieces). */
  pieceSize?: number
  /** Uploads in flight in total / per peer; more wait in a bounded queue. @default 16 / 4 */
  maxUploads?: number
  maxUploadsPerPeer?: number
  /** GET requests in flight from this node in total. @default 32 */
  maxDownloads?: number
  /** Upload and download rate limits in bytes per second (token buckets). @default unlimited */
  uploadRate?: number
  downloadRate?: number
  /** Timeout of a HAVE/PIECES/RESOLVE answer and of a dial. @default 10 s */
  requestTimeoutMs?: number
  /** Timeout of one GET answer, header and data. @default 30 s */
  pieceTimeoutMs?: number
  /** A served stream with no request for this long is closed. @default 30 s */
  idleStreamTimeoutMs?: number
  /** Inbound blob streams served at once per peer / per node; more are reset. @default 64 / 512 */
  maxInboundStreamsPerPeer?: number
  maxInboundStreams?: number
  /** Data lanes for piece bytes (lane/); on when `identity` is given, unless `enabled: false`. */
  lanes?: Omit<LaneInit, 'logger'>
  /** Called with the descriptor of each tag a peer resolved here (the node records it as a use of that image). */
  onResolved?: (descriptor: Descriptor) => void
  logger?: Logger
}

export interface ExchangeComponents {
  node: ExchangeNode
  store: Store
  /** The node's libp2p key, which signs the data lane's certificate; without it, no lanes. */
  identity?: PrivateKey
}

export class Exchange implements Startable {
  readonly holdings: Holdings
  readonly client: ExchangeClient
  readonly stats = new TransferStats()
  /** Data lanes (undefined when disabled): piece bytes on TLS over their own TCP connection. */
  readonly lanes: Lanes | undefined
  private readonly inbound: InboundStreams
  private readonly node: ExchangeNode
  private readonly store: Store
  private readonly serverContext: Omit<ServerContext, 'signal'>
  private readonly downloads: Semaphore
  private readonly forcedPieceSize: number | undefined
  private readonly pexCache = new Map<string, { addrs: string[], at: number }>()
  private readonly learned = new Set<string>()
  private controller = new AbortController()
  private started = false

  constructor (components: ExchangeComponents, init: ExchangeInit = {}) {
    if (init.pieceSize !== undefined && !isValidPieceSize(init.pieceSize)) {
      throw new InvalidP2PConfigError(`piece size ${init.pieceSize} must be a power of two between 16 KiB and 4 MiB`)
    }
    this.node = components.node
    this.store = components.store
    this.forcedPieceSize = init.pieceSize
    this.holdings = new Holdings(this.store, size => this.pieceSizeFor(size))
    const requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    const logger = init.logger ?? silentLogger
    const lanes = components.identity !== undefined && init.lanes?.enabled !== false
      ? new Lanes({ node: this.node, identity: components.identity }, { ...init.lanes, logger })
      : undefined
    this.lanes = lanes
    this.inbound = new InboundStreams(init.maxInboundStreamsPerPeer, init.maxInboundStreams)
    this.serverContext = {
      inbound: this.inbound,
      holdings: this.holdings,
      stats: this.stats,
      uploads: new Semaphore(init.maxUploads ?? DEFAULT_MAX_UPLOADS, 256),
      uploadsPerPeer: new KeyedSemaphore(init.maxUploadsPerPeer ?? DEFAULT_MAX_UPLOADS_PER_PEER, 64),
      uploadBucket: bucket(init.uploadRate),
      resolveRef: async ref => {
        const descriptor = await this.resolveLocal(ref)
        if (descriptor !== undefined) init.onResolved?.(descriptor)
        return descriptor
      },
      describePeers: async ids => await this.describePeers(ids),
      idleTimeoutMs: init.idleStreamTimeoutMs ?? DEFAULT_IDLE_STREAM_TIMEOUT_MS,
      requestTimeoutMs,
      logger
    }
    this.downloads = new Semaphore(init.maxDownloads ?? DEFAULT_MAX_DOWNLOADS)
    this.client = new ExchangeClient({
      dial: async (peer, signal) => await this.dial(peer, signal),
      stats: this.stats,
      downloads: this.downloads,
      downloadBucket: bucket(init.downloadRate),
      requestTimeoutMs,
      pieceTimeoutMs: init.pieceTimeoutMs ?? DEFAULT_PIECE_TIMEOUT_MS,
      ...(lanes !== undefined ? { lane: async (peer: PeerId, signal?: AbortSignal) => await lanes.forPeer(peer, signal), distrustPlaintext: (peer: PeerId, why: string) => { lanes.distrust(peer, why) } } : {})
    })
  }

  /** The piece size this node cuts a blob of `size` bytes at. */
  pieceSizeFor (size: number): number {
    return this.forcedPieceSize ?? choosePieceSize(size)
  }

  /** Piece requests in flight: answers being sent (upload slots held) and GETs awaiting their answer. */
  piecesInFlight (): { uploads: number, downloads: number } {
    return { uploads: this.serverContext.uploads.inUse, downloads: this.downloads.inUse }
  }

  /** The inbound streams being served and the request bytes they hold (docs/protocol.md §6). */
  inboundLoad (): InboundLoad {
    return this.inbound.load()
  }

  async start (): Promise<void> {
    if (this.started) return
    this.controller = new AbortController()
    const context: ServerContext = { ...this.serverContext, signal: this.controller.signal }
    await this.node.handle(BLOB_PROTOCOL, async (stream, connection) => { await serveStream(stream, connection, context) }, {
      maxInboundStreams: MAX_PROTOCOL_STREAMS,
      maxOutboundStreams: MAX_PROTOCOL_STREAMS
    })
    await this.lanes?.start(context)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller.abort(new Error('the exchange is stopping'))
    this.client.closeIdle()
    await this.lanes?.stop()
    await this.node.unhandle(BLOB_PROTOCOL)
    await this.holdings.close()
  }

  /**
   * Remembers the addresses a peer-exchange entry gives and returns its peer id (undefined for garbage).
   * The addresses are only hints: the Noise handshake proves who answers on them.
   */
  learnPeer (entry: PexPeer): PeerId | undefined {
    let id: PeerId
    try {
      id = peerIdFromString(entry.id)
    } catch {
      return undefined
    }
    if (id.equals(this.node.peerId)) return undefined
    // Peer-store writes are costly and HAVE answers repeat themselves: merge only addresses not seen before.
    const fresh = entry.addrs.filter(a => isTcpAddress(a) && !this.learned.has(`${entry.id} ${a}`))
    if (this.learned.size > 4096) this.learned.clear()
    for (const a of fresh) this.learned.add(`${entry.id} ${a}`)
    const multiaddrs = fresh.flatMap(a => {
      try {
        return [parseTcpAddress(a)]
      } catch {
        return []
      }
    })
    if (multiaddrs.length > 0) void this.node.peerStore.merge(id, { multiaddrs }).catch(() => {})
    return id
  }

  /**
   * Opens a stream. A peer known by id only is looked up in the DHT first, outside the dial: a dial that did the
   * lookup itself would wait for the DHT's own dial to the same peer, which waits for the first (a deadlock
   * until the timeout).
   */
  private async dial (peer: PeerId, signal: AbortSignal): Promise<Stream> {
    if (this.node.getConnections(peer).length === 0) {
      const known = await this.node.peerStore.get(peer).then(p => p.addresses.length, () => 0)
      if (known === 0) await this.node.peerRouting.findPeer(peer, { signal })
    }
    return await this.node.dialProtocol(peer, BLOB_PROTOCOL, { signal })
  }

  /** Peer ids with their dialable addresses; cached for a while, as HAVE answers are frequent and addresses stable. */
  private async describePeers (ids: string[]): Promise<PexPeer[]> {
    const now = Date.now()
    return await Promise.all(ids.map(async id => {
      const cached = this.pexCache.get(id)
      if (cached !== undefined && now - cached.at < PEX_CACHE_MS) return { id, addrs: cached.addrs }
      let addrs: string[] = []
      try {
        const peer = await this.node.peerStore.get(peerIdFromString(id))
        addrs = peer.addresses.map(a => a.multiaddr.toString()).filter(isTcpAddress).slice(0, MAX_PEX_ADDRS)
      } catch {
        // Not in the peer store: the id alone still lets the receiver find it through the DHT.
      }
      if (this.pexCache.size >= 1024) this.pexCache.clear()
      this.pexCache.set(id, { addrs, at: now })
      return { id, addrs }
    }))
  }

  /** RESOLVE is answered for `name:tag` from index.json only; digest refs need no resolution. */
  private async resolveLocal (ref: string): Promise<Descriptor | undefined> {
    const parsed = parseReference(ref)
    if (parsed.tag === undefined || parsed.digest !== undefined) return undefined
    return await this.store.refs.get(`${parsed.name}:${parsed.tag}`)
  }
}

function bucket (rate: number | undefined): TokenBucket | undefined {
  if (rate === undefined) return undefined
  if (!(rate > 0)) throw new InvalidP2PConfigError(`rate limit must be a positive number of bytes per second, got ${rate}`)
  // A quarter-second burst keeps the rate smooth; a piece larger than the burst still passes (the bucket goes
  // into debt and the next piece waits it off).
  return new TokenBucket(rate, rate / 4)
}
