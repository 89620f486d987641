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
  /** Buffers handed out (as given to their user: the whole buffer or a view of its start) -> the pooled buffer. */
  private readonly out = new WeakMap<Buffer, Buffer>()
  private readonly keep: number

  /** Keeps at most `keep` free buffers of each size. */
  constructor (keep: number) {
    this.keep = keep
  }

  /**
   * A buffer of exactly `size` bytes. Sizes between 64 KiB and 4 MiB come from the pool: a size that is not a
   * power of two (a whole small blob, such as a NAR of a few MiB, or the last piece of a blob) is a view of the
   * start of a pooled buffer of the next power of two, so that such transfers allocate nothing either.
   */
  take (size: number): Buffer {
    const capacity = capacityFor(size)
    if (capacity === undefined) return Buffer.allocUnsafe(size)
    const buffer = this.free.get(capacity)?.pop() ?? Buffer.allocUnsafeSlow(capacity)
    const view = capacity === size ? buffer : buffer.subarray(0, size)
    this.out.set(view, buffer)
    return view
  }

  /** Gives back a buffer from `take`, once its bytes are no longer needed by anyone. */
  give (buffer: Uint8Array): void {
    const pooled = buffer instanceof Buffer ? this.out.get(buffer) : undefined
    if (pooled === undefined) return
    this.out.delete(buffer as Buffer)
    const list = this.free.get(pooled.byteLength) ?? []
    if (list.length >= this.keep) return
    list.push(pooled)
    this.free.set(pooled.byteLength, list)
  }
}

/** The pooled size that holds `size` bytes, or undefined for sizes the pool does not keep. */
function capacityFor (size: number): number | undefined {
  if (size < MIN_POOLED || size > MAX_POOLED) return undefined
  let capacity = MIN_POOLED
  while (capacity < size) capacity *= 2
  return capacity
}

/** The node's pool of piece buffers (uploads and lane downloads). */
export const pieceBuffers = new BufferPool(32)
