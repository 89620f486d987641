/**
 * Pull-based reading of exact byte counts from an async iterable of chunks, without ever holding more than one
 * input chunk plus the small strings asked for. Lengths and EOF turn into the typed NAR errors.
 */
import { NarLengthError, NarTruncatedError } from './errors.ts'

const EMPTY = new Uint8Array(0)

export class ByteReader {
  /** Bytes consumed so far: the position reported in NAR errors. */
  offset = 0
  readonly #iterator: AsyncIterator<Uint8Array>
  readonly #maxSize: number
  #chunk: Uint8Array = EMPTY
  #pos = 0
  #done = false

  constructor (source: AsyncIterable<Uint8Array>, maxSize = Number.MAX_SAFE_INTEGER) {
    this.#iterator = source[Symbol.asyncIterator]()
    this.#maxSize = maxSize
  }

  /**
   * Returns `length` as a number after checking it against `limit` and against what is left of the size limit,
   * so that a hostile length is refused before any byte of it is awaited.
   */
  checkLength (length: bigint, limit = Number.MAX_SAFE_INTEGER): number {
    const budget = Math.min(limit, this.#maxSize - this.offset)
    if (length > BigInt(budget)) throw new NarLengthError(length, budget, this.offset)
    return Number(length)
  }

  async #fill (): Promise<boolean> {
    while (this.#pos >= this.#chunk.length) {
      if (this.#done) return false
      const next = await this.#iterator.next()
      if (next.done === true) {
        this.#done = true
        return false
      }
      this.#chunk = next.value
      this.#pos = 0
    }
    return true
  }

  /** Between 1 and `max` bytes (a view into the input chunk); NarTruncatedError at the end of the stream. */
  async chunk (max: number): Promise<Uint8Array> {
    if (!(await this.#fill())) throw new NarTruncatedError(this.offset)
    const take = Math.min(max, this.#chunk.length - this.#pos)
    const out = this.#chunk.subarray(this.#pos, this.#pos + take)
    this.#pos += take
    this.offset += take
    if (this.offset > this.#maxSize) throw new NarLengthError(this.offset, this.#maxSize, this.offset - take)
    return out
  }

  /** Exactly `length` bytes as one Buffer (only for small fields: callers check the length first). */
  async exact (length: number): Promise<Buffer> {
    const first = await (length === 0 ? Promise.resolve(EMPTY) : this.chunk(length))
    if (first.length === length) return Buffer.from(first.buffer, first.byteOffset, first.length)
    const out = Buffer.alloc(length)
    out.set(first)
    let filled = first.length
    while (filled < length) {
      const part = await this.chunk(length - filled)
      out.set(part, filled)
      filled += part.length
    }
    return out
  }

  async skip (length: number): Promise<void> {
    let left = length
    while (left > 0) left -= (await this.chunk(left)).length
  }

  /** True when the stream has no more bytes. */
  async atEnd (): Promise<boolean> {
    return !(await this.#fill())
  }

  /** Stops the source (closes the file or socket behind it) after an error or an early end. */
  async close (): Promise<void> {
    if (!this.#done) {
      this.#done = true
      await this.#iterator.return?.()
    }
  }
}
