/**
 * A bitfield of pieces, most significant bit first in each byte (piece 0 is 0x80 of byte 0), as BitTorrent's
 * BEP 3 `bitfield` message; on the wire it travels as base64 (docs/protocol.md §4). Spare bits must be zero.
 */
import { MalformedMessageError } from '../errors.ts'

export class Bitfield {
  readonly length: number
  private readonly bytes: Uint8Array
  private ones: number

  constructor (length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid bitfield length ${length}`)
    this.length = length
    this.bytes = bytes !== undefined ? Uint8Array.from(bytes) : new Uint8Array(Math.ceil(length / 8))
    this.ones = 0
    for (const byte of this.bytes) this.ones += popcount(byte)
  }

  /** All pieces set. */
  static full (length: number): Bitfield {
    const field = new Bitfield(length)
    for (let i = 0; i < length; i++) field.set(i)
    return field
  }

  /** Decodes bytes for `length` pieces, refusing a wrong byte count or set spare bits. */
  static fromBytes (bytes: Uint8Array, length: number): Bitfield {
    if (bytes.byteLength !== Math.ceil(length / 8)) {
      throw new MalformedMessageError(`bitfield of ${bytes.byteLength} bytes cannot describe ${length} pieces`)
    }
    const spare = length % 8
    const last = bytes[bytes.byteLength - 1]
    if (spare !== 0 && last !== undefined && (last & (0xff >> spare)) !== 0) {
      throw new MalformedMessageError('bitfield has bits set beyond its last piece')
    }
    return new Bitfield(length, bytes)
  }

  static fromBase64 (text: string, length: number): Bitfield {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new MalformedMessageError('bitfield is not base64')
    return Bitfield.fromBytes(Buffer.from(text, 'base64'), length)
  }

  has (index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return false
    return ((this.bytes[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0
  }

  set (index: number): void {
    this.check(index)
    if (this.has(index)) return
    this.bytes[index >> 3] = (this.bytes[index >> 3] ?? 0) | (0x80 >> (index & 7))
    this.ones++
  }

  clear (index: number): void {
    this.check(index)
    if (!this.has(index)) return
    this.bytes[index >> 3] = (this.bytes[index >> 3] ?? 0) & ~(0x80 >> (index & 7))
    this.ones--
  }

  /** How many pieces are set. */
  count (): number {
    return this.ones
  }

  isComplete (): boolean {
    return this.ones === this.length
  }

  /** Indices of the set pieces, ascending. */
  * indices (): Generator<number> {
    for (let i = 0; i < this.length; i++) if (this.has(i)) yield i
  }

  clone (): Bitfield {
    return new Bitfield(this.length, this.bytes)
  }

  toBytes (): Uint8Array {
    return Uint8Array.from(this.bytes)
  }

  toBase64 (): string {
    return Buffer.from(this.bytes).toString('base64')
  }

  private check (index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`piece ${index} outside 0..${this.length - 1}`)
  }
}

function popcount (byte: number): number {
  let n = 0
  for (let b = byte; b !== 0; b &= b - 1) n++
  return n
}
