/**
 * Reused piece buffers. Every piece read for an upload, and every piece taken off a data lane, used to be a
 * fresh buffer outside the V8 heap; at hundreds of MB/s that external memory made V8 run a full mark-compact
 * about every 100 ms (over a quarter of a serving node's time, measured). Buffers of piece sizes (powers of two
 * from 64 KiB) are kept and handed out again once their user gives them back. A buffer never given back is
 * simply collected; one given back twice is ignored, so two users can never share one.
 */
const MIN_POOLED = 64 * 1024
const MAX_POOLED = 4 * 1024 * 1024

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>()
  private readonly out = new WeakSet<Buffer>()
  private readonly keep: number

  /** Keeps at most `keep` free buffers of each size. */
  constructor (keep: number) {
    this.keep = keep
  }

  take (size: number): Buffer {
    if (!pooled(size)) return Buffer.allocUnsafe(size)
    const buffer = this.free.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size)
    this.out.add(buffer)
    return buffer
  }

  /** Gives back a buffer from `take`, once its bytes are no longer needed by anyone. */
  give (buffer: Uint8Array): void {
    if (!(buffer instanceof Buffer) || !this.out.has(buffer)) return
    this.out.delete(buffer)
    const list = this.free.get(buffer.byteLength) ?? []
    if (list.length >= this.keep) return
    list.push(buffer)
    this.free.set(buffer.byteLength, list)
  }
}

function pooled (size: number): boolean {
  return size >= MIN_POOLED && size <= MAX_POOLED && (size & (size - 1)) === 0
}

/** The node's pool of piece buffers (uploads and lane downloads). */
export const pieceBuffers = new BufferPool(32)
