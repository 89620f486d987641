/**
 * Framing at the stream edge (docs/protocol.md §2): every message is a varint length prefix and a payload, read
 * and written with `lpStream` from @libp2p/utils. A control frame is JSON (codec.ts) of at most
 * MAX_CONTROL_FRAME bytes; a data frame follows a header that announced its exact length. Each read sets its
 * own limit, and the length prefix is checked byte by byte as it arrives (prefix.ts): a prefix past the limit,
 * or longer than the limit needs (ten bytes of 0xff), is refused at once rather than buffered or held until a
 * timeout. A stream holds at most `maxBuffered` bytes read ahead; a peer that sends more is cut off.
 * Every read has a timeout and an AbortSignal, and every failure of the underlying stream becomes a typed
 * error: a lost connection ends a libp2p stream without an error, so a short read is reported as
 * TruncatedResponseError rather than as success.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { MAX_CONTROL_FRAME, MAX_DATA_FRAME } from '../constants.ts'
import { decodeRequest, decodeResponse, encodeFrame, encodeMessage, type Request, type Response } from './codec.ts'
import { FrameTooLargeError, PeerTimeoutError, ProtocolViolationError, TruncatedResponseError, UnexpectedResponseError } from '../errors.ts'
import { LengthPrefix } from './prefix.ts'

/** A frame as @libp2p/utils returns it: a list of chunks (`subarray()` joins them, iteration does not). */
export type Frame = Awaited<ReturnType<LengthPrefixedStream['read']>>

/** Room for one header and one data frame: a peer that sends more than it was asked for is cut off. */
const MAX_BUFFERED = MAX_DATA_FRAME + MAX_CONTROL_FRAME + 16

export interface FramedStreamInit {
  /** Most bytes read ahead and held for this stream. @default one control frame and one data frame */
  maxBuffered?: number
}

export class FramedStream {
  readonly stream: Stream
  readonly peer: string
  private readonly lp: LengthPrefixedStream<Stream>
  private readonly prefix = new LengthPrefix(MAX_DATA_FRAME)
  private received = 0
  private consumed = 0

  constructor (stream: Stream, peer: string, init: FramedStreamInit = {}) {
    this.stream = stream
    this.peer = peer
    this.lp = lpStream(stream, { maxDataLength: MAX_DATA_FRAME, maxBufferSize: init.maxBuffered ?? MAX_BUFFERED, lengthDecoder: this.prefix.decoder })
    stream.addEventListener('message', event => { this.received += event.data.byteLength })
  }

  /** Bytes received and not yet read: what the peer makes this stream hold (0 once the stream is gone). */
  get buffered (): number {
    return this.stream.status === 'open' || this.stream.status === 'closing' ? this.received - this.consumed : 0
  }

  /** True while both directions are open, so the stream can carry another request. */
  get reusable (): boolean {
    return this.stream.status === 'open' && this.stream.writeStatus === 'writable' && this.stream.remoteWriteStatus === 'writable'
  }

  async readRequest (timeoutMs: number, signal?: AbortSignal): Promise<Request> {
    const frame = await this.readFrame('a request', MAX_CONTROL_FRAME, timeoutMs, signal)
    return decodeRequest(frame.subarray())
  }

  async readResponse (what: string, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    const frame = await this.readFrame(what, MAX_CONTROL_FRAME, timeoutMs, signal)
    return decodeResponse(frame.subarray())
  }

  /** Reads one control frame of another protocol on this framing, decoded by `decode` (codec.ts decodeMessage). */
  async readMessage<T> (what: string, decode: (bytes: Uint8Array) => T, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    const frame = await this.readFrame(what, MAX_CONTROL_FRAME, timeoutMs, signal)
    return decode(frame.subarray())
  }

  /** Reads a data frame that must be exactly `length` bytes long; a longer one is refused at its prefix. */
  async readData (length: number, what: string, timeoutMs: number, signal?: AbortSignal): Promise<Frame> {
    const frame = await this.readFrame(what, length, timeoutMs, signal)
    if (frame.byteLength !== length) throw new UnexpectedResponseError(`${what} has ${frame.byteLength} bytes, the header said ${length}`)
    return frame
  }

  async write (message: Request | Response, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.guard('writing', timeoutMs, signal, async s => { await this.lp.write(encodeMessage(message), { signal: s }) })
  }

  /** Writes one control frame of another protocol on this framing (codec.ts encodeFrame). */
  async writeMessage (message: object, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.guard('writing', timeoutMs, signal, async s => { await this.lp.write(encodeFrame(message), { signal: s }) })
  }

  /** Writes a header and its data frame in one send; waits for the stream to drain (back-pressure). */
  async writeWithData (message: Response, data: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.guard('writing', timeoutMs, signal, async s => { await this.lp.writeV([encodeMessage(message), data], { signal: s }) })
  }

  /** Half-closes our side; the remote sees the end after what we sent. */
  async close (timeoutMs: number): Promise<void> {
    try {
      await this.stream.close({ signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      this.stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }

  private async readFrame (what: string, limit: number, timeoutMs: number, signal?: AbortSignal): Promise<Frame> {
    this.prefix.limit = limit
    const frame = await this.guard(`reading ${what}`, timeoutMs, signal, async s => await this.lp.read({ signal: s }))
    this.consumed += this.prefix.length + frame.byteLength
    return frame
  }

  /** Runs one stream operation under a timeout, translating library errors into ours. */
  private async guard<T> (what: string, timeoutMs: number, signal: AbortSignal | undefined, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs)
    const combined = signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout
    try {
      return await op(combined)
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      if (timeout.aborted) throw new PeerTimeoutError(this.peer, what, timeoutMs)
      throw translate(err, what)
    }
  }
}

/** Maps @libp2p/utils and stream errors (matched by name, as libp2p does) onto the protocol's errors. */
export function translate (err: unknown, what: string): Error {
  if (!(err instanceof Error)) return new TruncatedResponseError(`${what}: ${String(err)}`)
  switch (err.name) {
    case 'InvalidDataLengthError':
    case 'InvalidDataLengthLengthError':
      return new FrameTooLargeError(MAX_DATA_FRAME + 1, MAX_DATA_FRAME, err)
    case 'InvalidMessageLengthError':
      return new ProtocolViolationError(`${what}: invalid frame length`, { cause: err })
    case 'StreamBufferError':
      return new ProtocolViolationError(`${what}: the peer sent more than it was asked for`, { code: 'FRAME_TOO_LARGE', cause: err })
    case 'UnexpectedEOFError':
      return new TruncatedResponseError(`${what}: the stream ended early`, err)
    default:
      if (err instanceof ProtocolViolationError || err instanceof TruncatedResponseError) return err
      return new TruncatedResponseError(`${what}: ${err.message}`, err)
  }
}
