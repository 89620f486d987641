/**
 * The varint (LEB128) length prefix of a frame (docs/protocol.md §2), decoded as its bytes arrive and refused as
 * soon as it cannot name a frame within the current limit: its value so far is past the limit, or it runs on
 * past the bytes a value within the limit needs (a run of 0xff bytes never ends on its own). lpStream calls
 * `decoder` with the prefix bytes read so far after each byte; a RangeError asks for another byte, any other
 * error ends the read at once.
 */
import { FrameTooLargeError } from '../errors.ts'

/** The prefix bytes lpStream has read so far (a Uint8ArrayList). */
export interface PrefixBytes {
  readonly byteLength: number
  get: (index: number) => number
}

/** Bytes of the longest minimal varint of a value up to `limit`. */
export function prefixBytes (limit: number): number {
  return Math.max(1, Math.ceil(Math.log2(limit + 1) / 7))
}

export class LengthPrefix {
  /** The largest frame the next read accepts. */
  limit: number
  /** Bytes of the last prefix decoded. */
  length = 0

  constructor (limit: number) {
    this.limit = limit
  }

  readonly decoder = (data: PrefixBytes): number => {
    let value = 0
    for (let i = 0; i < data.byteLength; i++) {
      const byte = data.get(i)
      value += (byte & 0x7f) * 2 ** (7 * i)
      if (value > this.limit) throw new FrameTooLargeError(value, this.limit)
      if ((byte & 0x80) === 0) {
        this.length = i + 1
        return value
      }
    }
    // A (minimal) varint that runs past `most` bytes names at least 2^(7 * most) bytes.
    const most = prefixBytes(this.limit)
    if (data.byteLength >= most) throw new FrameTooLargeError(2 ** (7 * most), this.limit)
    throw new RangeError('the length prefix goes on')
  }
}
