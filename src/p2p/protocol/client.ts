/**
 * The requesting side of /emergence/blob/1.0.0 (docs/protocol.md §4). Streams to a peer are kept in a small
 * idle pool and reused for the next request, which saves a protocol negotiation per piece. Every request has a
 * timeout; every answer is checked against the request (type, digest, index, announced length).
 */
import type { PeerId, Stream } from '@libp2p/interface'
import type { Digest } from '../../oci/digest.ts'
import type { Descriptor } from '../../oci/types.ts'
import { Bitfield } from '../pieces/bitfield.ts'
import type { GetRequest, PexPeer, Request, Response } from './codec.ts'
import { NotHaveError, PieceDeferredError, PeerErrorResponse, PeerUnreachableError, ProtocolViolationError, TruncatedResponseError, UnexpectedResponseError } from '../errors.ts'
import type { LaneAnswer, LaneConnection } from '../lane/connection.ts'
import { LaneClosedError } from '../lane/errors.ts'
import type { Semaphore, TokenBucket } from './limits.ts'
import { makePieceList, type PieceList } from '../pieces/piece-list.ts'
import { pieceCount, pieceLength } from '../pieces/pieces.ts'
import type { TransferPath, TransferStats } from '../stats.ts'
import { FramedStream } from './wire.ts'

export interface ClientContext {
  dial: (peer: PeerId, signal: AbortSignal) => Promise<Stream>
  stats: TransferStats
  /** Node-wide limit on GET requests in flight (each holds at most one piece in memory). */
  downloads: Semaphore
  downloadBucket: TokenBucket | undefined
  requestTimeoutMs: number
  pieceTimeoutMs: number
  /** The open data lane to a peer, if one is up or can be opened (lane/); undefined: libp2p streams. */
  lane?: (peer: PeerId, signal?: AbortSignal) => Promise<LaneConnection | undefined>
  /** Stops using plaintext lanes to a peer: bytes on one were changed on the way (docs/protocol.md §9.5). */
  distrustPlaintext?: (peer: PeerId, why: string) => void
}

export interface RequestOptions {
  signal?: AbortSignal
}

export interface HaveOptions extends RequestOptions {
  /**
   * A long poll: the pieces we know the peer has; it answers once it verified another one (or completed, or
   * after `waitMs`). A 1.0 peer answers at once.
   */
  known?: Bitfield
  waitMs?: number
}

export interface GetOptions extends RequestOptions {
  /** The pieces we would take instead of the one asked for; the peer may send any of them (super-seeding). */
  want?: Bitfield
  /** Only over a path that proves the peer (a TLS lane or a libp2p stream), never a plaintext lane. */
  authenticated?: boolean
}

/** A peer's answer to HAVE. */
export type HaveAnswer =
  | { have: true, size: number, pieceSize: number, complete: boolean, verified: Bitfield | undefined, suggest: Bitfield | undefined, peers: PexPeer[] }
  | { have: false, peers: PexPeer[] }

/** Which piece: piece `index` of blob `digest` (`size` bytes) cut at `pieceSize`. */
export interface PieceRef {
  digest: Digest
  size: number
  pieceSize: number
  index: number
}

/** Piece bytes as they came off the wire: chunks, not joined (joining would copy every piece once more). */
export type PieceBytes = Iterable<Uint8Array> & { readonly byteLength: number }

export interface PieceData {
  /** The piece sent: the one asked for, or one of `want`. */
  index: number
  data: PieceBytes
  /** The sha256 of `data` when it was taken on arrival (a data lane hashes as the bytes come in). */
  sha256: Uint8Array | undefined
  /** Gives `data`'s buffer back for reuse (a lane's pooled buffer); call once it is written or dropped. */
  release: () => void
  /**
   * False when the piece came over a plaintext lane: bad bytes then prove nothing about the peer until the piece
   * is fetched again over an authenticated path (docs/protocol.md §9.5, pulling/recheck.ts).
   */
  authenticated: boolean
  /** The server's verified pieces when it is still downloading the blob itself. */
  verified: Bitfield | undefined
  /** A complete server's super-seeding hint: the pieces it has sent least. */
  suggest: Bitfield | undefined
}

const MAX_IDLE_PER_PEER = 8
const IDLE_CLOSE_MS = 10_000

export class ExchangeClient {
  private readonly ctx: ClientContext
  private readonly idle = new Map<string, FramedStream[]>()

  constructor (ctx: ClientContext) {
    this.ctx = ctx
  }

  async have (peer: PeerId, digest: Digest, options: HaveOptions = {}): Promise<HaveAnswer> {
    const wait = options.known !== undefined && options.waitMs !== undefined
    const request: Request = wait ? { type: 'HAVE', digest, known: options.known?.toBase64(), waitMs: options.waitMs } : { type: 'HAVE', digest }
    const timeoutMs = this.ctx.requestTimeoutMs + (wait ? options.waitMs ?? 0 : 0)
    const response = await this.withStream(peer, options.signal, async framed => await this.request(framed, request, 'HAVE', timeoutMs, options.signal))
    if (response.type === 'NOT_HAVE' && response.digest === digest) return { have: false, peers: response.peers }
    if (response.type !== 'HAVE' || response.digest !== digest) throw new UnexpectedResponseError(`${response.type} to HAVE`)
    const count = pieceCount(response.size, response.pieceSize)
    const verified = response.bitfield !== undefined ? Bitfield.fromBase64(response.bitfield, count) : undefined
    if (!response.complete && verified === undefined) throw new UnexpectedResponseError('an incomplete HAVE without a bitfield')
    const suggest = response.suggest !== undefined ? Bitfield.fromBase64(response.suggest, count) : undefined
    return { have: true, size: response.size, pieceSize: response.pieceSize, complete: response.complete, verified, suggest, peers: response.peers }
  }

  /** The peer's piece list, checked against `size` (the descriptor's, or the one HAVE reported). */
  async pieceList (peer: PeerId, digest: Digest, size: number, options: RequestOptions = {}): Promise<PieceList> {
    return await this.withStream(peer, options.signal, async framed => {
      const response = await this.request(framed, { type: 'PIECES', digest }, 'PIECES', this.ctx.requestTimeoutMs, options.signal)
      if (response.type === 'NOT_HAVE') throw new NotHaveError(framed.peer, digest)
      if (response.type !== 'PIECES' || response.digest !== digest) throw new UnexpectedResponseError(`${response.type} to PIECES`)
      const data = await framed.readData(response.length, 'the piece list', this.ctx.requestTimeoutMs, options.signal)
      if (response.size !== size) throw new UnexpectedResponseError(`piece list for ${response.size} bytes, expected ${size}`)
      return makePieceList(digest, size, response.pieceSize, data.subarray())
    })
  }

  /**
   * Fetches piece `index` (or, with `want`, any piece of `want`) of a blob of `size` bytes cut at `pieceSize`;
   * checks its length, not its hash.
   */
  async getPiece (peer: PeerId, piece: PieceRef, options: GetOptions = {}): Promise<PieceData> {
    const { digest, index, size, pieceSize } = piece
    const { want } = options
    const release = await this.ctx.downloads.acquire(options.signal)
    try {
      await this.ctx.downloadBucket?.take(pieceLength(index, size, pieceSize), options.signal)
      const request: GetRequest = want !== undefined ? { type: 'GET', digest, index, pieceSize, want: want.toBase64() } : { type: 'GET', digest, index, pieceSize }
      const lane = await this.ctx.lane?.(peer, options.signal)
      if (lane !== undefined && !(lane.plaintext && options.authenticated === true)) {
        try {
          return await this.pieceVia(laneChannel(lane), piece, request, want, options.signal)
        } catch (err) {
          if (options.signal?.aborted === true) throw err
          // Garbage on a plaintext lane may be anyone's on the way: no ban, that lane is done with, and the stream decides.
          const garbage = err instanceof ProtocolViolationError ? err : err instanceof LaneClosedError && err.cause instanceof ProtocolViolationError ? err.cause : undefined
          if (lane.plaintext && garbage !== undefined) this.ctx.distrustPlaintext?.(peer, garbage.message)
          // The lane closed under the request: once more on a stream, as the peer itself may be fine.
          else if (!(err instanceof LaneClosedError)) throw err
        }
      }
      return await this.withStream(peer, options.signal, async framed => await this.pieceVia({
        peer: framed.peer,
        path: 'stream',
        authenticated: true,
        request: async (r, what, timeoutMs, signal) => await this.request(framed, r, what, timeoutMs, signal),
        readData: async (length, what, timeoutMs, signal) => ({ bytes: await framed.readData(length, what, timeoutMs, signal), sha256: undefined, release: () => {} })
      }, piece, request, want, options.signal))
    } finally {
      release()
    }
  }

  /** One GET round trip on a stream or a lane, its answer checked against the request. */
  private async pieceVia (channel: PieceChannel, piece: PieceRef, request: GetRequest, want: Bitfield | undefined, signal: AbortSignal | undefined): Promise<PieceData> {
    const { digest, index, size, pieceSize } = piece
    const response = await channel.request(request, `GET ${index}`, this.ctx.pieceTimeoutMs, signal)
    if (response.type === 'NOT_HAVE') throw new NotHaveError(channel.peer, digest, index)
    if (response.type === 'DEFER' && response.digest === digest && response.index === index) {
      throw new PieceDeferredError(channel.peer, index, Bitfield.fromBase64(response.suggest, pieceCount(size, pieceSize)))
    }
    if (response.type !== 'PIECE' || response.digest !== digest || (response.index !== index && want?.has(response.index) !== true)) {
      throw new UnexpectedResponseError(`${response.type}${response.type === 'PIECE' ? ` ${response.index}` : ''} to GET ${index}`)
    }
    const sent = response.index
    const length = pieceLength(sent, size, pieceSize)
    if (response.length !== length) throw new UnexpectedResponseError(`piece ${sent} announced ${response.length} bytes, expected ${length}`)
    const { bytes, sha256, release } = await channel.readData(length, `piece ${sent}`, this.ctx.pieceTimeoutMs, signal)
    this.ctx.stats.addReceived(channel.peer, length, channel.path)
    const count = pieceCount(size, pieceSize)
    const verified = response.bitfield !== undefined ? Bitfield.fromBase64(response.bitfield, count) : undefined
    const suggest = response.suggest !== undefined ? Bitfield.fromBase64(response.suggest, count) : undefined
    return { index: sent, data: bytes, sha256, release, verified, suggest, authenticated: channel.authenticated }
  }

  async resolve (peer: PeerId, ref: string, options: RequestOptions = {}): Promise<Descriptor | undefined> {
    const response = await this.ask(peer, { type: 'RESOLVE', ref }, 'RESOLVE', options.signal)
    if (response.type === 'NOT_FOUND' && response.ref === ref) return undefined
    if (response.type !== 'RESOLVED' || response.ref !== ref) throw new UnexpectedResponseError(`${response.type} to RESOLVE`)
    return response.descriptor
  }

  /** A piece off a plaintext lane was bad and the same piece over an authenticated path good: someone on the way changed it. */
  distrustPlaintext (peer: PeerId, why: string): void {
    this.ctx.distrustPlaintext?.(peer, why)
  }

  /** Closes every idle stream (on stop, or when a pull ends). */
  closeIdle (peer?: string): void {
    for (const [key, streams] of this.idle) {
      if (peer !== undefined && key !== peer) continue
      for (const framed of streams) void framed.close(1_000)
      this.idle.delete(key)
    }
  }

  private async ask (peer: PeerId, request: Request, what: string, signal: AbortSignal | undefined): Promise<Response> {
    return await this.withStream(peer, signal, async framed => await this.request(framed, request, what, this.ctx.requestTimeoutMs, signal))
  }

  private async request (framed: FramedStream, request: Request, what: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Response> {
    await framed.write(request, this.ctx.requestTimeoutMs, signal)
    const response = await framed.readResponse(`the answer to ${what}`, timeoutMs, signal)
    if (response.type === 'ERROR') throw new PeerErrorResponse(framed.peer, response.code, response.message)
    return response
  }

  /** Runs `fn` on an idle stream to `peer`, or a new one; retries once on a fresh stream if a reused one was dead. */
  private async withStream<T> (peer: PeerId, signal: AbortSignal | undefined, fn: (framed: FramedStream) => Promise<T>): Promise<T> {
    const key = peer.toString()
    const pooled = this.takeIdle(key)
    try {
      return await this.runOn(pooled ?? await this.open(peer, signal), fn)
    } catch (err) {
      if (pooled === undefined || !(err instanceof TruncatedResponseError) || signal?.aborted === true) throw err
      return await this.runOn(await this.open(peer, signal), fn)
    }
  }

  private async runOn<T> (framed: FramedStream, fn: (framed: FramedStream) => Promise<T>): Promise<T> {
    try {
      const result = await fn(framed)
      this.putIdle(framed)
      return result
    } catch (err) {
      // A negative answer leaves the stream in step; anything else leaves it in an unknown state.
      if ((err instanceof NotHaveError || err instanceof PieceDeferredError || err instanceof PeerErrorResponse) && framed.reusable) this.putIdle(framed)
      else framed.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  private async open (peer: PeerId, signal: AbortSignal | undefined): Promise<FramedStream> {
    const timeout = AbortSignal.timeout(this.ctx.requestTimeoutMs)
    try {
      const stream = await this.ctx.dial(peer, signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout)
      return new FramedStream(stream, peer.toString())
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      throw new PeerUnreachableError(peer.toString(), err)
    }
  }

  private takeIdle (key: string): FramedStream | undefined {
    const streams = this.idle.get(key)
    while (streams !== undefined && streams.length > 0) {
      const framed = streams.pop()
      if (framed?.reusable === true) return framed
    }
    return undefined
  }

  private putIdle (framed: FramedStream): void {
    if (!framed.reusable) return
    const streams = this.idle.get(framed.peer) ?? []
    if (streams.length >= MAX_IDLE_PER_PEER) {
      void framed.close(1_000)
      return
    }
    streams.push(framed)
    this.idle.set(framed.peer, streams)
    setTimeout(() => {
      const at = streams.indexOf(framed)
      if (at === -1) return
      streams.splice(at, 1)
      void framed.close(1_000)
    }, IDLE_CLOSE_MS).unref()
  }
}

/** Where one GET goes: a pooled libp2p stream or a data lane. */
interface PieceChannel {
  peer: string
  path: TransferPath
  /** The path proves the peer (a libp2p stream, a TLS lane); false on a plaintext lane. */
  authenticated: boolean
  request: (request: GetRequest, what: string, timeoutMs: number, signal?: AbortSignal) => Promise<Response>
  readData: (length: number, what: string, timeoutMs: number, signal?: AbortSignal) => Promise<{ bytes: PieceBytes, sha256: Uint8Array | undefined, release: () => void }>
}

/** A lane answers header and data at once; the data is handed over when asked for, its length checked. */
function laneChannel (lane: LaneConnection): PieceChannel {
  let data: LaneAnswer['data']
  return {
    peer: lane.peer,
    path: 'lane',
    authenticated: !lane.plaintext,
    request: async (request, _what, timeoutMs, signal) => {
      const answer = await lane.request(request, timeoutMs, signal)
      if (answer.response.type === 'ERROR') throw new PeerErrorResponse(lane.peer, answer.response.code, answer.response.message)
      data = answer.data
      return answer.response
    },
    readData: async (length, what) => {
      const got = data?.chunks.byteLength ?? 0
      if (data === undefined || got !== length) throw new UnexpectedResponseError(`${what} has ${got} bytes, the header said ${length}`)
      const chunks = data.chunks
      return { bytes: chunks, sha256: data.sha256, release: () => { chunks.release() } }
    }
  }
}
