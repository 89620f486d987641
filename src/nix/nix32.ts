/**
 * Nix's base-32 ("nix32", docs/formats.md): alphabet `0123456789abcdfghijklmnpqrsvwxyz` (no e, o, u, t), length
 * `floor((8n - 1) / 5) + 1` for n bytes, and the characters come from the *last* 5-bit group first. This is
 * not RFC 4648 base32; it mirrors `printHash32` / `parseHash32` in Nix's hash.cc bit for bit.
 */
import { Nix32Error } from './errors.ts'

export const NIX32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz'

const DIGITS = new Map<string, number>([...NIX32_ALPHABET].map((c, i) => [c, i]))

/** Number of nix32 characters that encode `bytes` bytes (52 for sha256, 32 for a store path hash). */
export function nix32Length (bytes: number): number {
  return bytes === 0 ? 0 : Math.floor((bytes * 8 - 1) / 5) + 1
}

/** Number of bytes a nix32 string of `chars` characters decodes to, or -1 when no byte count gives that length. */
function byteLength (chars: number): number {
  const bytes = Math.floor((chars * 5) / 8)
  return nix32Length(bytes) === chars ? bytes : -1
}

export function encodeNix32 (bytes: Uint8Array): string {
  const length = nix32Length(bytes.length)
  let out = ''
  for (let n = length - 1; n >= 0; n--) {
    const b = n * 5
    const i = Math.floor(b / 8)
    const j = b % 8
    const low = (bytes[i] ?? 0) >> j
    const high = i + 1 < bytes.length ? (bytes[i + 1] ?? 0) << (8 - j) : 0
    out += NIX32_ALPHABET[(low | high) & 0x1f]
  }
  return out
}

/** Decodes nix32; throws Nix32Error on a foreign character, an impossible length or bits beyond the last byte. */
export function decodeNix32 (value: string): Uint8Array {
  const size = byteLength(value.length)
  if (size < 0) throw new Nix32Error(value, `length ${value.length} encodes no whole number of bytes`)
  const out = new Uint8Array(size)
  for (let n = 0; n < value.length; n++) {
    const digit = DIGITS.get(value.charAt(value.length - n - 1))
    if (digit === undefined) throw new Nix32Error(value, `character '${value.charAt(value.length - n - 1)}' is not in the alphabet`)
    const b = n * 5
    const i = Math.floor(b / 8)
    const j = b % 8
    out[i] = (out[i] ?? 0) | ((digit << j) & 0xff)
    const carry = digit >> (8 - j)
    if (i + 1 < size) {
      out[i + 1] = (out[i + 1] ?? 0) | carry
    } else if (carry !== 0) {
      throw new Nix32Error(value, 'bits set beyond the last byte')
    }
  }
  return out
}

/** True when `value` is nix32 that decodes to exactly `bytes` bytes. */
export function isNix32 (value: string, bytes: number): boolean {
  if (value.length !== nix32Length(bytes)) return false
  try {
    decodeNix32(value)
    return true
  } catch {
    return false
  }
}
