/**
 * The NAR wire format (docs/formats.md "NAR"): every string is a u64 little-endian length, the bytes, and zero padding to a
 * multiple of 8; `nar = str("nix-archive-1") obj`. Shared by the writer, the reader and the export stream.
 */

export const NAR_MAGIC = 'nix-archive-1'

/** Linux NAME_MAX: no directory entry name can be longer, so a NAR that says otherwise is hostile. */
export const MAX_NAME_BYTES = 255
/** Linux PATH_MAX minus the terminating NUL: the longest symlink target the kernel accepts. */
export const MAX_TARGET_BYTES = 4095
/** Deepest directory nesting a reader accepts: far beyond real store trees, low enough to bound the work. */
export const MAX_DEPTH = 256

export function padding (length: number): number {
  return (8 - (length % 8)) % 8
}

export function u64 (value: number): Uint8Array {
  const out = Buffer.alloc(8)
  out.writeBigUInt64LE(BigInt(value))
  return out
}

/** One framed NAR string: length, bytes, padding. */
export function narString (value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  const out = Buffer.alloc(8 + bytes.length + padding(bytes.length))
  out.writeBigUInt64LE(BigInt(bytes.length))
  out.set(bytes, 8)
  return out
}

/** Several framed strings in one buffer (the writer's token runs such as `( type regular`). */
export function narStrings (...values: Array<Uint8Array | string>): Uint8Array {
  return Buffer.concat(values.map(narString))
}

/** Byte order of directory entries in a NAR: raw bytes, as C++ `std::string` compares them. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
