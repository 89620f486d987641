/**
 * Lane framing (docs/protocol.md §9.3): every frame is a 13-byte prefix (kind u8, request id u32, header length
 * u32, data length u32, big-endian), a header (a ticket, or one JSON message of the blob protocol) and, for an
 * answer that carries a piece, the piece bytes. `FrameReader` cuts frames out of the decrypted byte stream as it
 * arrives. It never keeps the chunks it is given (the requester reads the socket into one reused buffer): piece
 * bytes are copied once into a pooled piece buffer and hashed as they pass, so the piece is checked without
 * being read again, and the whole piece goes to the disk in one write.
 */
import { createHash, type Hash } from 'node:crypto'
import { MAX_CONTROL_FRAME, MAX_DATA_FRAME } from '../constants.ts'
import { pieceBuffers } from '../serving/buffer-pool.ts'
import { FrameTooLargeError, ProtocolViolationError } from '../errors.ts'
import { FRAME_PREFIX_BYTES } from './constants.ts'

/** Frame kinds: hello (ticket) and request from the requester; ready, refuse and answer from the server. */
export const KIND = { hello: 1, ready: 2, refuse: 3, request: 4, answer: 5 } as const
export type FrameKind = typeof KIND[keyof typeof KIND]
const KINDS = new Set<number>(Object.values(KIND))

/** Piece bytes off the lane: one pooled buffer, iterable as one chunk like a libp2p frame's list. */
export class Chunks implements Iterable<Uint8Array> {
  readonly buffer: Buffer
  readonly byteLength: number

  constructor (buffer: Buffer) {
    this.buffer = buffer
    this.byteLength = buffer.byteLength
  }

  [Symbol.iterator] (): Iterator<Uint8Array> {
    return [this.buffer][Symbol.iterator]()
  }

  /** Hands the buffer back to the pool: call once its bytes are written (or dropped), never before. */
  release (): void {
    pieceBuffers.give(this.buffer)
  }
}

export interface LaneFrame {
  kind: FrameKind
  id: number
  header: Buffer
  /** Present when the frame carried data: the bytes, and their sha256 taken on arrival. */
  data: { chunks: Chunks, sha256: Uint8Array } | undefined
}

/** The prefix and header of a frame in one buffer; `dataLength` bytes of data are written right after it. */
export function encodeFrame (kind: FrameKind, id: number, header: Uint8Array, dataLength = 0): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + header.byteLength)
  frame.writeUInt8(kind, 0)
  frame.writeUInt32BE(id, 1)
  frame.writeUInt32BE(header.byteLength, 5)
  frame.writeUInt32BE(dataLength, 9)
  frame.set(header, FRAME_PREFIX_BYTES)
  return frame
}

export interface FrameReaderInit {
  /** Kinds this end accepts; any other is a protocol violation. */
  accept: ReadonlySet<FrameKind>
  /** Kinds that may carry data (answers, on the requester's end). */
  withData: ReadonlySet<FrameKind>
  onFrame: (frame: LaneFrame) => void
}

export class FrameReader {
  private readonly init: FrameReaderInit
  /** Bytes of the prefix and header being read (small: at most the control-frame limit). */
  private head: Buffer[] = []
  private headBytes = 0
  private current: { kind: FrameKind, id: number, headerLength: number, dataLength: number } | undefined
  private header: Buffer | undefined
  private piece: Buffer | undefined
  private hash: Hash | undefined
  private filled = 0

  constructor (init: FrameReaderInit) {
    this.init = init
  }

  /** True while a frame is partly read (a lane that ends now ended mid-frame). */
  get midFrame (): boolean {
    return this.headBytes > 0 || this.current !== undefined
  }

  /** Takes the next bytes off the lane (copied: `chunk` may be reused at once); throws a ProtocolViolationError on garbage. */
  push (chunk: Buffer): void {
    let at = 0
    while (at < chunk.byteLength) {
      const piece = this.piece
      if (piece !== undefined) {
        const take = Math.min(piece.byteLength - this.filled, chunk.byteLength - at)
        const part = chunk.subarray(at, at + take)
        this.hash?.update(part)
        piece.set(part, this.filled)
        this.filled += take
        at += take
        if (this.filled === piece.byteLength) this.finish()
        continue
      }
      at = this.readHead(chunk, at)
    }
  }

  private readHead (chunk: Buffer, at: number): number {
    const want = this.current === undefined ? FRAME_PREFIX_BYTES : FRAME_PREFIX_BYTES + this.current.headerLength
    const take = Math.min(want - this.headBytes, chunk.byteLength - at)
    this.head.push(Buffer.from(chunk.subarray(at, at + take)))
    this.headBytes += take
    if (this.headBytes < want) return at + take
    const head = this.head.length === 1 ? this.head[0] as Buffer : Buffer.concat(this.head)
    this.head = [head]
    if (this.current === undefined) {
      this.current = this.parsePrefix(head)
      if (this.current.headerLength > 0) return at + take
    }
    this.header = head.subarray(FRAME_PREFIX_BYTES)
    this.head = []
    this.headBytes = 0
    if (this.current.dataLength === 0) {
      this.finish()
    } else {
      this.piece = pieceBuffers.take(this.current.dataLength)
      this.filled = 0
      this.hash = createHash('sha256')
    }
    return at + take
  }

  private parsePrefix (prefix: Buffer): NonNullable<FrameReader['current']> {
    const kind = prefix.readUInt8(0)
    if (!KINDS.has(kind) || !this.init.accept.has(kind as FrameKind)) throw new ProtocolViolationError(`lane frame of unexpected kind ${kind}`)
    const headerLength = prefix.readUInt32BE(5)
    const dataLength = prefix.readUInt32BE(9)
    if (headerLength > MAX_CONTROL_FRAME) throw new FrameTooLargeError(headerLength, MAX_CONTROL_FRAME)
    if (dataLength > MAX_DATA_FRAME) throw new FrameTooLargeError(dataLength, MAX_DATA_FRAME)
    if (dataLength > 0 && !this.init.withData.has(kind as FrameKind)) throw new ProtocolViolationError(`lane frame of kind ${kind} carries data`)
    return { kind: kind as FrameKind, id: prefix.readUInt32BE(1), headerLength, dataLength }
  }

  private finish (): void {
    const current = this.current as NonNullable<FrameReader['current']>
    const data = this.piece !== undefined ? { chunks: new Chunks(this.piece), sha256: (this.hash as Hash).digest() } : undefined
    const frame: LaneFrame = { kind: current.kind, id: current.id, header: this.header ?? Buffer.alloc(0), data }
    this.current = undefined
    this.header = undefined
    this.piece = undefined
    this.hash = undefined
    this.init.onFrame(frame)
  }
}
