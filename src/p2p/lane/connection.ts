/**
 * The requester's end of a lane (docs/protocol.md §9): a TLS 1.3 connection to the peer's lane port, checked to
 * be the peer of our libp2p connection (certificate.ts), opened with the ticket the peer offered. It carries
 * GET requests only, many at once, each tagged with an id; answers come back in any order. Every request has a
 * timeout and an AbortSignal: an aborted request's answer is read and dropped when it comes; a request that
 * times out means the lane stalled, and the lane is closed (its other requests fail with LaneClosedError).
 */
import { connect as connectTcp, type Socket } from 'node:net'
import { connect, type ConnectionOptions } from 'node:tls'
import { decodeResponse, encodeMessage, type GetRequest, type Response } from '../protocol/codec.ts'
import { PeerTimeoutError, ProtocolViolationError } from '../errors.ts'
import { Semaphore } from '../protocol/limits.ts'
import type { LaneCredentials } from './certificate.ts'
import { provenPeer } from './certificate.ts'
import { LANE_ALPN, LANE_CIPHERS, MAX_LANE_DISCARDS, MAX_LANE_REQUESTS } from './constants.ts'
import { LaneClosedError, LaneIdentityError, LaneRefusedError, LaneUnavailableError } from './errors.ts'
import { FrameReader, KIND, encodeFrame, type LaneFrame } from './frames.ts'
import type { LaneOffer } from './offer.ts'
import { settle, waitForEvent } from './waits.ts'

/** The buffer TLS decrypts into, reused for every read (a TLS record is at most 16 KiB). */
const READ_BUFFER = 64 * 1024

/** An answer off the lane: the message, and the piece bytes with their sha256 when it carried a piece. */
export interface LaneAnswer {
  response: Response
  data: LaneFrame['data']
}

interface Pending {
  resolve: (answer: LaneAnswer) => void
  reject: (err: unknown) => void
}

export interface LaneOpenOptions {
  offer: LaneOffer
  /** The libp2p peer id the lane must prove. */
  peer: string
  credentials: LaneCredentials
  timeoutMs: number
  /** A lane with nothing in flight for this long closes itself. */
  idleMs: number
  /** Piece bytes received on the lane are added here. */
  counts?: { bytes: number }
  signal?: AbortSignal
}

export class LaneConnection {
  readonly peer: string
  private readonly socket: Socket
  /**
   * No TLS (docs/protocol.md §9.5): bytes on it may have been changed on the way, so a bad piece or garbage proves
   * nothing about the peer. Garbage closes it with a LaneClosedError (the request is retried on a stream) instead
   * of the ProtocolViolationError that would ban the peer.
   */
  readonly plaintext: boolean
  private readonly reader: FrameReader
  private readonly pending = new Map<number, Pending | 'discard'>()
  private readonly slots = new Semaphore(MAX_LANE_REQUESTS)
  private discards = 0
  private nextId = 1
  private failure: Error | undefined
  private readonly counts: { bytes: number }
  /** Settled by the server's READY or REFUSE, which may come before we even sent the ticket. */
  private greeting: { resolve: () => void, reject: (err: unknown) => void } | undefined
  private readonly ready: Promise<void>
  /** Called once when the lane closes; `idle` when it closed itself for want of use. */
  onClose: (err: Error, idle: boolean) => void = () => {}

  private constructor (socket: Socket, peer: string, counts: { bytes: number }, plaintext: boolean) {
    this.socket = socket
    this.peer = peer
    this.plaintext = plaintext
    this.counts = counts
    this.ready = new Promise<void>((resolve, reject) => { this.greeting = { resolve, reject } })
    this.ready.catch(() => {})
    this.reader = new FrameReader({
      accept: new Set([KIND.ready, KIND.refuse, KIND.answer]),
      withData: new Set([KIND.answer]),
      onFrame: frame => { this.onFrame(frame) }
    })
    socket.on('error', err => { this.fail(new LaneClosedError(peer, err.message, err), false) })
    socket.on('close', () => { this.fail(new LaneClosedError(peer, 'the connection closed'), false) })
    socket.on('timeout', () => { if (this.pending.size === 0) this.fail(new LaneClosedError(peer, 'idle'), true) })
  }

  /**
   * Connects, proves the peer (TLS; a plaintext offer has nothing to prove it), shows the ticket; throws
   * LaneUnavailableError, LaneIdentityError or LaneRefusedError.
   */
  static async open (options: LaneOpenOptions): Promise<LaneConnection> {
    const { offer, peer, credentials } = options
    const sink: { lane?: LaneConnection } = {}
    const onread = { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n: number, buf: Uint8Array) => { sink.lane?.received(buf.subarray(0, n) as Buffer); return true } }
    if (offer.plaintext === true) {
      const socket = connectTcp({ onread, host: offer.host, port: offer.port })
      socket.setNoDelay(true)
      const lane = new LaneConnection(socket, peer, options.counts ?? { bytes: 0 }, true)
      sink.lane = lane
      return await lane.start(async () => { await waitForEvent(socket, 'connect', options.timeoutMs, options.signal) }, options)
    }
    const socket = connect({
      // Decrypted bytes land in one reused buffer (the reader copies them out): no allocation per TLS record.
      onread,
      host: offer.host,
      port: offer.port,
      cert: credentials.cert,
      key: credentials.key,
      // Self-signed certificates: the libp2p extension, checked below, is what proves the peer.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ciphers: LANE_CIPHERS,
      ALPNProtocols: [LANE_ALPN]
    } as ConnectionOptions)
    socket.setNoDelay(true)
    const lane = new LaneConnection(socket, peer, options.counts ?? { bytes: 0 }, false)
    sink.lane = lane
    return await lane.start(async () => {
      await waitForEvent(socket, 'secureConnect', options.timeoutMs, options.signal)
      if (socket.alpnProtocol !== LANE_ALPN) throw new LaneUnavailableError(peer, 'the lane port does not speak the lane protocol')
      await provenPeer(socket, peer)
    }, options)
  }

  /** Runs `connected` (the connection and its checks), then shows the ticket; errors as `open` says. */
  private async start (connected: () => Promise<void>, options: LaneOpenOptions): Promise<LaneConnection> {
    try {
      await connected()
      await this.greet(options.offer.ticket, options.timeoutMs, options.signal)
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)), false)
      if (options.signal?.aborted === true) throw options.signal.reason
      if (err instanceof LaneIdentityError || err instanceof LaneRefusedError || err instanceof LaneUnavailableError) throw err
      throw new LaneUnavailableError(this.peer, err instanceof Error ? err.message : String(err), err)
    }
    this.socket.setTimeout(options.idleMs)
    return this
  }

  private received (chunk: Buffer): void {
    try {
      this.reader.push(chunk)
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)), false)
    }
  }

  get isOpen (): boolean {
    return this.failure === undefined
  }

  /** Sends one GET and waits for its answer. */
  async request (request: GetRequest, timeoutMs: number, signal?: AbortSignal): Promise<LaneAnswer> {
    const release = await this.slots.acquire(signal)
    try {
      if (this.failure !== undefined) throw new LaneClosedError(this.peer, this.failure.message, this.failure)
      const id = this.nextId
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
      const answer = new Promise<LaneAnswer>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
      this.socket.write(encodeFrame(KIND.request, id, encodeMessage(request)))
      return await settle(answer, timeoutMs, signal, {
        onTimeout: () => {
          const err = new PeerTimeoutError(this.peer, `GET ${request.index} on the data lane`, timeoutMs)
          this.pending.delete(id)
          this.fail(new LaneClosedError(this.peer, 'it stalled', err), false)
          return err
        },
        onAbort: () => { this.discard(id) }
      })
    } finally {
      release()
    }
  }

  close (): void {
    this.fail(new LaneClosedError(this.peer, 'closed by us'), true)
  }

  private async greet (ticket: Buffer, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    this.socket.write(encodeFrame(KIND.hello, 0, ticket))
    await settle(this.ready, timeoutMs, signal, { onTimeout: () => new LaneUnavailableError(this.peer, 'no answer to the ticket'), onAbort: () => {} })
  }

  /** The answer to an aborted request still comes; it is read and dropped. Too many such means a lane to close. */
  private discard (id: number): void {
    if (!this.pending.has(id)) return
    this.pending.set(id, 'discard')
    if (++this.discards > MAX_LANE_DISCARDS) this.fail(new LaneClosedError(this.peer, 'too many abandoned requests'), false)
  }

  private onFrame (frame: LaneFrame): void {
    if (frame.kind !== KIND.answer) {
      const greeting = this.greeting
      this.greeting = undefined
      if (greeting === undefined) throw new ProtocolViolationError(`lane frame of kind ${frame.kind} after the greeting`)
      if (frame.kind === KIND.ready) greeting.resolve()
      else greeting.reject(new LaneRefusedError(this.peer, frame.header.toString('utf8')))
      return
    }
    const entry = this.pending.get(frame.id)
    if (entry === undefined || this.greeting !== undefined) throw new ProtocolViolationError(`an answer on the data lane to no request (${frame.id})`)
    this.pending.delete(frame.id)
    if (entry === 'discard') {
      this.discards--
      frame.data?.chunks.release()
      return
    }
    let response: Response
    try {
      response = decodeResponse(frame.header)
    } catch (err) {
      entry.reject(err)
      throw err
    }
    this.counts.bytes += frame.data?.chunks.byteLength ?? 0
    entry.resolve({ response, data: frame.data })
  }

  private fail (err: Error, idle: boolean): void {
    if (this.failure !== undefined) return
    if (this.plaintext && err instanceof ProtocolViolationError) err = new LaneClosedError(this.peer, `garbage on a plaintext lane (${err.message})`, err)
    this.failure = err
    this.socket.destroy()
    this.greeting?.reject(err)
    for (const entry of this.pending.values()) {
      if (entry === 'discard') continue
      entry.reject(err instanceof ProtocolViolationError || err instanceof LaneClosedError ? err : new LaneClosedError(this.peer, err.message, err))
    }
    this.pending.clear()
    this.onClose(err, idle)
  }
}
