/**
 * The serving end of the data lane (docs/protocol.md §9): a TLS 1.3 listener that requires a client certificate.
 * A lane is accepted only when its certificate proves a libp2p peer id (certificate.ts) that is allowed, that
 * has fewer than the maximum lanes open, and that shows a ticket this node offered to that same peer id over
 * libp2p (tickets.ts). Then GET requests are answered by the stream server's own `answerGet`, under the same
 * upload slots, rate limit and BUSY answers as on libp2p streams. Garbage gets one ERROR and the lane closes.
 */
import type { Socket } from 'node:net'
import { createServer, type Server, type TLSSocket } from 'node:tls'
import { constants } from 'node:crypto'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'
import { ERROR_CODES, decodeRequest, encodeMessage, type Request, type Response } from '../protocol/codec.ts'
import { PeerTimeoutError, ProtocolViolationError, TruncatedResponseError, UnknownMessageError } from '../errors.ts'
import { pieceBuffers } from '../serving/buffer-pool.ts'
import { answerGet, type AnswerSink, type ServerContext } from '../serving/server.ts'
import type { LaneCredentials } from './certificate.ts'
import { provenPeer } from './certificate.ts'
import { LANE_ALPN, LANE_CIPHERS, MAX_LANE_REQUESTS, MAX_LANES, MAX_LANES_PER_PEER, MAX_PENDING_HANDSHAKES } from './constants.ts'
import { FrameReader, KIND, encodeFrame, type LaneFrame } from './frames.ts'
import type { TicketBook } from './tickets.ts'
import { settle, waitForEvent } from './waits.ts'

const CLOSE_WAIT_MS = 2_000

export interface LaneServerContext {
  credentials: LaneCredentials
  tickets: TicketBook
  allowed: (peer: string) => boolean
  serve: ServerContext
  logger: Logger
}

export class LaneServer {
  private readonly ctx: LaneServerContext
  private readonly server: Server
  private readonly open = new Map<TLSSocket, string>()
  /** Every TCP connection, handshake done or not: close() ends them all (the listener waits for them). */
  private readonly sockets = new Set<Socket>()
  /** TCP connections refused because the lanes and pending handshakes were all taken. */
  dropped = 0

  constructor (ctx: LaneServerContext) {
    this.ctx = ctx
    this.server = createServer({
      cert: ctx.credentials.cert,
      key: ctx.credentials.key,
      requestCert: true,
      // Self-signed certificates: provenPeer() checks the libp2p extension instead of a CA chain.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ciphers: LANE_CIPHERS,
      ALPNProtocols: [LANE_ALPN],
      // No session tickets: a resumed session would skip the certificates that prove the peer.
      secureOptions: constants.SSL_OP_NO_TICKET,
      handshakeTimeout: ctx.serve.requestTimeoutMs
    }, socket => { void this.accept(socket) })
    // Connections still in their handshake count too: a flood of them is refused at the door, not buffered.
    this.server.maxConnections = MAX_LANES + MAX_PENDING_HANDSHAKES
    this.server.on('drop', () => { this.dropped++ })
    this.server.on('tlsClientError', err => { ctx.logger.debug(`lane handshake failed: ${err.message}`) })
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => { this.sockets.delete(socket) })
    })
  }

  async listen (host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('the lane listener has no port')
    return address.port
  }

  /** Stops listening and closes every lane, and every connection still in its handshake. */
  async close (): Promise<void> {
    const closed = new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
    for (const socket of this.sockets) socket.destroy()
    // Destroyed sockets close at once; the bound only guards against a handle that never reports it.
    await settle(closed, CLOSE_WAIT_MS, undefined, { onTimeout: () => new Error('lane sockets did not close'), onAbort: () => {} }).catch(() => {})
  }

  /** Lanes open to `peer` (all peers when undefined). */
  count (peer?: string): number {
    return peer === undefined ? this.open.size : [...this.open.values()].filter(p => p === peer).length
  }

  private async accept (socket: TLSSocket): Promise<void> {
    socket.setNoDelay(true)
    socket.on('error', () => {})
    let peer: string
    try {
      if (socket.alpnProtocol !== LANE_ALPN) throw new ProtocolViolationError('no lane ALPN')
      peer = await provenPeer(socket)
    } catch (err) {
      this.ctx.logger.debug(`lane refused: ${describeError(err)}`)
      socket.destroy()
      return
    }
    if (!this.ctx.allowed(peer)) return this.refuse(socket, peer, 'not allowed')
    if (this.open.size >= MAX_LANES || this.count(peer) >= MAX_LANES_PER_PEER) return this.refuse(socket, peer, 'too many lanes')
    this.open.set(socket, peer)
    socket.once('close', () => { this.open.delete(socket) })
    new ServedLane(socket, peer, this.ctx).start()
  }

  private refuse (socket: TLSSocket, peer: string, why: string): void {
    this.ctx.logger.info(`lane from ${peer} refused: ${why}`)
    socket.end(encodeFrame(KIND.refuse, 0, Buffer.from(why)))
    setTimeout(() => { socket.destroy() }, 1_000).unref()
  }
}

/** One accepted lane: waits for the ticket, then answers GETs until the peer goes or breaks the protocol. */
class ServedLane {
  private readonly socket: TLSSocket
  private readonly peer: string
  private readonly ctx: LaneServerContext
  private greeted = false
  private refused = false
  private inFlight = 0
  /** One wait for 'drain' shared by every answer held up by a full socket buffer. */
  private draining: Promise<void> | undefined

  constructor (socket: TLSSocket, peer: string, ctx: LaneServerContext) {
    this.socket = socket
    this.peer = peer
    this.ctx = ctx
  }

  start (): void {
    const reader = new FrameReader({ accept: new Set([KIND.hello, KIND.request]), withData: new Set(), onFrame: frame => { this.onFrame(frame) } })
    const ticketWait = setTimeout(() => { if (!this.greeted) this.close('no ticket in time') }, this.ctx.serve.requestTimeoutMs)
    this.socket.once('close', () => { clearTimeout(ticketWait) })
    this.socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk)
      } catch (err) {
        void this.violation(0, err instanceof ProtocolViolationError ? err : new ProtocolViolationError(describeError(err)))
      }
    })
    // An idle lane (nothing read or written for the idle-stream timeout) is closed, as an idle stream is.
    this.socket.setTimeout(this.ctx.serve.idleTimeoutMs)
    this.socket.on('timeout', () => { if (this.inFlight === 0) this.close('idle') })
  }

  private onFrame (frame: LaneFrame): void {
    if (this.refused) return
    if (!this.greeted) {
      if (frame.kind !== KIND.hello || !this.ctx.tickets.redeem(this.peer, frame.header)) {
        this.ctx.logger.info(`lane from ${this.peer} refused: no ticket issued to it`)
        this.refused = true
        this.socket.end(encodeFrame(KIND.refuse, 0, Buffer.from('no ticket issued to this peer')))
        setTimeout(() => { this.socket.destroy() }, 1_000).unref()
        return
      }
      this.greeted = true
      this.socket.write(encodeFrame(KIND.ready, 0, Buffer.alloc(0)))
      return
    }
    if (frame.kind !== KIND.request) throw new ProtocolViolationError('a second hello on the lane')
    if (this.inFlight >= MAX_LANE_REQUESTS) throw new ProtocolViolationError(`more than ${MAX_LANE_REQUESTS} requests in flight on the lane`)
    let request: Request
    try {
      request = decodeRequest(frame.header)
    } catch (err) {
      void this.violation(frame.id, err as ProtocolViolationError)
      return
    }
    if (request.type !== 'GET') {
      void this.violation(frame.id, new UnknownMessageError(`${request.type} on the data lane`))
      return
    }
    this.inFlight++
    answerGet(request, this.sink(frame.id), this.peer, this.ctx.serve)
      .catch(async err => {
        if (err instanceof ProtocolViolationError) await this.violation(frame.id, err)
        else this.close(describeError(err))
      })
      .finally(() => { this.inFlight-- })
  }

  /** One ERROR answer, best effort, then the lane closes (as a stream is reset). */
  private async violation (id: number, err: ProtocolViolationError): Promise<void> {
    this.ctx.logger.info(`peer ${this.peer} sent garbage on its lane: ${err.message}`)
    const code = err instanceof UnknownMessageError ? ERROR_CODES.unknownMessage : ERROR_CODES.badRequest
    await this.sink(id).write({ type: 'ERROR', code, message: err.message.slice(0, 1000) }, 1_000, this.ctx.serve.signal).catch(() => {})
    this.close(err.message)
  }

  private close (why: string): void {
    this.ctx.logger.debug(`lane from ${this.peer} closed: ${why}`)
    this.socket.destroy()
  }

  /** Writes answers tagged with request `id`; a full socket buffer is waited off (back-pressure), under a timeout. */
  private sink (id: number): AnswerSink {
    const send = async (message: Request | Response, data: Uint8Array | undefined, timeoutMs: number, signal?: AbortSignal): Promise<void> => {
      if (this.socket.destroyed) throw new TruncatedResponseError('the lane is closed')
      this.socket.cork()
      this.socket.write(encodeFrame(KIND.answer, id, encodeMessage(message), data?.byteLength ?? 0))
      // The piece buffer goes back to the pool once TLS has taken its bytes.
      if (data !== undefined) this.socket.write(data, err => { if (err == null) pieceBuffers.give(data) })
      this.socket.uncork()
      if (!this.socket.writableNeedDrain) return
      this.draining ??= waitForEvent(this.socket, 'drain', this.ctx.serve.idleTimeoutMs).finally(() => { this.draining = undefined })
      await settle(this.draining, timeoutMs, signal, { onTimeout: () => new PeerTimeoutError(this.peer, 'draining the lane', timeoutMs), onAbort: () => {} })
        .catch(err => {
          if (err instanceof PeerTimeoutError || signal?.aborted === true) throw err
          throw new TruncatedResponseError('the lane closed', err)
        })
    }
    return {
      write: async (message, timeoutMs, signal) => { await send(message, undefined, timeoutMs, signal) },
      writeWithData: async (message, data, timeoutMs, signal) => { await send(message, data, timeoutMs, signal) }
    }
  }
}
