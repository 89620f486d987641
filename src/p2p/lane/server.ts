/**
 * The serving end of the data lane (docs/protocol.md §9): a TLS 1.3 listener that requires a client certificate.
 * A lane is accepted only when its certificate proves a libp2p peer id (certificate.ts) that is allowed, that
 * has fewer than the maximum lanes open, and that shows a ticket this node offered to that same peer id over
 * libp2p (tickets.ts). Then GET requests are answered by the stream server's own `answerGet`, under the same
 * upload slots, rate limit and BUSY answers as on libp2p streams. Garbage gets one ERROR and the lane closes.
 * A node that opted in to plaintext lanes (docs/protocol.md §9.5) takes them on the same port, told apart by the
 * first byte (a TLS handshake record, or a HELLO frame): such a lane belongs to the peer its ticket was issued to.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
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
  /** Accept plaintext lanes (docs/protocol.md §9.5) shown a plaintext-lane ticket. @default false */
  plaintext?: boolean
}

/** The first byte of a TLS connection (a handshake record); a plaintext lane starts with its HELLO frame. */
const TLS_HANDSHAKE_RECORD = 0x16

export class LaneServer {
  private readonly ctx: LaneServerContext
  /** The TCP listener: it tells TLS from plaintext lanes by their first byte, on one port. */
  private readonly listener: NetServer
  /** Runs the TLS handshakes of the connections the listener hands it (it does not listen itself). */
  private readonly tls: Server
  private readonly open = new Map<Socket, string>()
  /** Every TCP connection, handshake done or not: close() ends them all (the listener waits for them). */
  private readonly sockets = new Set<Socket>()
  /** TCP connections refused because the lanes and pending handshakes were all taken. */
  dropped = 0

  constructor (ctx: LaneServerContext) {
    this.ctx = ctx
    this.tls = createServer({
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
    this.tls.on('tlsClientError', err => { ctx.logger.debug(`lane handshake failed: ${err.message}`) })
    this.listener = createNetServer(socket => { this.sniff(socket) })
    // Connections still in their handshake count too: a flood of them is refused at the door, not buffered.
    this.listener.maxConnections = MAX_LANES + MAX_PENDING_HANDSHAKES
    this.listener.on('drop', () => { this.dropped++ })
    this.listener.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => { this.sockets.delete(socket) })
    })
  }

  async listen (host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject)
      this.listener.listen(port, host, () => {
        this.listener.off('error', reject)
        resolve()
      })
    })
    const address = this.listener.address()
    if (address === null || typeof address === 'string') throw new Error('the lane listener has no port')
    return address.port
  }

  /** Stops listening and closes every lane, and every connection still in its handshake. */
  async close (): Promise<void> {
    const closed = new Promise<void>(resolve => { this.listener.close(() => { resolve() }) })
    for (const socket of this.sockets) socket.destroy()
    // Destroyed sockets close at once; the bound only guards against a handle that never reports it.
    await settle(closed, CLOSE_WAIT_MS, undefined, { onTimeout: () => new Error('lane sockets did not close'), onAbort: () => {} }).catch(() => {})
  }

  /** Lanes open to `peer` (all peers when undefined). */
  count (peer?: string): number {
    return peer === undefined ? this.open.size : [...this.open.values()].filter(p => p === peer).length
  }

  /** Reads the first byte: TLS goes to the handshake, a plaintext HELLO (if allowed) to its lane, the rest is closed. */
  private sniff (socket: Socket): void {
    socket.on('error', () => {})
    const timer = setTimeout(() => { socket.destroy() }, this.ctx.serve.requestTimeoutMs)
    socket.once('close', () => { clearTimeout(timer) })
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer)
      socket.pause()
      socket.unshift(chunk)
      if (chunk[0] === TLS_HANDSHAKE_RECORD) this.tls.emit('connection', socket)
      else if (this.ctx.plaintext === true && chunk[0] === KIND.hello) this.acceptPlain(socket)
      else socket.destroy()
    })
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
    const refusal = this.admit(socket, peer)
    if (refusal !== undefined) return this.refuse(socket, peer, refusal)
    new ServedLane(socket, this.ctx, ticket => this.ctx.tickets.redeem(peer, ticket) ? peer : undefined).start()
  }

  /** A plaintext lane: its peer is the one its ticket was issued to, and only then are the limits checked. */
  private acceptPlain (socket: Socket): void {
    socket.setNoDelay(true)
    new ServedLane(socket, this.ctx, ticket => this.ctx.tickets.redeemPlain(ticket), peer => this.admit(socket, peer)).start()
    // sniff() paused it to put its first bytes back.
    socket.resume()
  }

  /** Registers a lane of `peer`, or says why it is refused (not allowed, too many lanes). */
  private admit (socket: Socket, peer: string): string | undefined {
    if (!this.ctx.allowed(peer)) return 'not allowed'
    if (this.open.size >= MAX_LANES || this.count(peer) >= MAX_LANES_PER_PEER) return 'too many lanes'
    this.open.set(socket, peer)
    socket.once('close', () => { this.open.delete(socket) })
    return undefined
  }

  private refuse (socket: Socket, peer: string, why: string): void {
    this.ctx.logger.info(`lane from ${peer} refused: ${why}`)
    socket.end(encodeFrame(KIND.refuse, 0, Buffer.from(why)))
    setTimeout(() => { socket.destroy() }, 1_000).unref()
  }
}

/** One accepted lane: waits for the ticket, then answers GETs until the peer goes or breaks the protocol. */
class ServedLane {
  private readonly socket: Socket
  /** The peer its ticket names (a TLS lane's certificate proved it already); known after the HELLO. */
  private peer = 'an unidentified peer'
  private readonly ctx: LaneServerContext
  /** The peer whose live ticket this is, or undefined. */
  private readonly identify: (ticket: Buffer) => string | undefined
  /** Admits the identified peer, or says why not (a plaintext lane's limits are checked once its peer is known). */
  private readonly admit: (peer: string) => string | undefined
  private greeted = false
  private refused = false
  private inFlight = 0
  /** One wait for 'drain' shared by every answer held up by a full socket buffer. */
  private draining: Promise<void> | undefined

  constructor (socket: Socket, ctx: LaneServerContext, identify: (ticket: Buffer) => string | undefined, admit: (peer: string) => string | undefined = () => undefined) {
    this.socket = socket
    this.ctx = ctx
    this.identify = identify
    this.admit = admit
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
      const peer = frame.kind === KIND.hello ? this.identify(frame.header) : undefined
      const refusal = peer === undefined ? 'no ticket issued to this peer' : this.admit(peer)
      if (peer !== undefined) this.peer = peer
      if (refusal !== undefined) {
        this.ctx.logger.info(`lane from ${this.peer} refused: ${refusal}`)
        this.refused = true
        this.socket.end(encodeFrame(KIND.refuse, 0, Buffer.from(refusal)))
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
    answerGet(request, this.sink(frame.id), this.peer, this.ctx.serve, 'lane')
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
