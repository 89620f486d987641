/**
 * The blob exchange service (docs/protocol.md): registers the /emergence/blob/1.0.0 handler on start and
 * removes it on stop, serves what `holdings` has, and offers the requesting side (`client`) to the puller and
 * to peer-exchange routing. Counts bytes served and received per peer.
 */
import type { Libp2p, Startable } from '@libp2p/interface'
import { parseReference } from '../oci/reference.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Store } from '../store/store.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import {
  BLOB_PROTOCOL, DEFAULT_IDLE_STREAM_TIMEOUT_MS, DEFAULT_MAX_DOWNLOADS, DEFAULT_MAX_UPLOADS, DEFAULT_MAX_UPLOADS_PER_PEER,
  DEFAULT_PIECE_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, MAX_PROTOCOL_STREAMS
} from './constants.ts'
import { ExchangeClient } from './client.ts'
import { InvalidP2PConfigError } from './errors.ts'
import { Holdings } from './holdings.ts'
import { KeyedSemaphore, Semaphore, TokenBucket } from './limits.ts'
import { choosePieceSize, isValidPieceSize } from './pieces.ts'
import { serveStream, type ServerContext } from './server.ts'
import { TransferStats } from './stats.ts'

/** The part of a libp2p node the exchange uses. */
export type ExchangeNode = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'peerId'>

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
  logger?: Logger
}

export interface ExchangeComponents {
  node: ExchangeNode
  store: Store
}

export class Exchange implements Startable {
  readonly holdings: Holdings
  readonly client: ExchangeClient
  readonly stats = new TransferStats()
  private readonly node: ExchangeNode
  private readonly store: Store
  private readonly serverContext: Omit<ServerContext, 'signal'>
  private readonly forcedPieceSize: number | undefined
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
    this.serverContext = {
      holdings: this.holdings,
      stats: this.stats,
      uploads: new Semaphore(init.maxUploads ?? DEFAULT_MAX_UPLOADS, 256),
      uploadsPerPeer: new KeyedSemaphore(init.maxUploadsPerPeer ?? DEFAULT_MAX_UPLOADS_PER_PEER, 64),
      uploadBucket: bucket(init.uploadRate),
      resolveRef: async ref => await this.resolveLocal(ref),
      idleTimeoutMs: init.idleStreamTimeoutMs ?? DEFAULT_IDLE_STREAM_TIMEOUT_MS,
      requestTimeoutMs,
      logger
    }
    this.client = new ExchangeClient({
      dial: async (peer, signal) => await this.node.dialProtocol(peer, BLOB_PROTOCOL, { signal }),
      stats: this.stats,
      downloads: new Semaphore(init.maxDownloads ?? DEFAULT_MAX_DOWNLOADS),
      downloadBucket: bucket(init.downloadRate),
      requestTimeoutMs,
      pieceTimeoutMs: init.pieceTimeoutMs ?? DEFAULT_PIECE_TIMEOUT_MS
    })
  }

  /** The piece size this node cuts a blob of `size` bytes at. */
  pieceSizeFor (size: number): number {
    return this.forcedPieceSize ?? choosePieceSize(size)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.controller = new AbortController()
    const context: ServerContext = { ...this.serverContext, signal: this.controller.signal }
    await this.node.handle(BLOB_PROTOCOL, async (stream, connection) => { await serveStream(stream, connection, context) }, {
      maxInboundStreams: MAX_PROTOCOL_STREAMS,
      maxOutboundStreams: MAX_PROTOCOL_STREAMS
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller.abort(new Error('the exchange is stopping'))
    this.client.closeIdle()
    await this.node.unhandle(BLOB_PROTOCOL)
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
  // A burst of a quarter second, but at least one 4 MiB piece, keeps the rate smooth without starving big pieces.
  return new TokenBucket(rate, Math.max(rate / 4, 4 * 1024 * 1024))
}
