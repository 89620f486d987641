/**
 * Piece arithmetic (docs/protocol.md §3). A blob of `size` bytes is cut into pieces of `pieceSize` bytes, the
 * last one shorter. The default piece size is a function of the size alone, so every node cuts a blob the same
 * way and bitfields from different peers line up.
 */
import { DEFAULT_MIN_PIECE_SIZE, MAX_PIECE_SIZE, MAX_PIECES, MIN_PIECE_SIZE, TARGET_PIECE_COUNT } from '../constants.ts'

/**
 * 1 MiB for blobs up to 1 GiB, doubling up to 4 MiB so that a blob has about TARGET_PIECE_COUNT pieces.
 * 1 MiB takes 40 ms at 25 MB/s: small enough that a few requests in flight keep a link busy and the endgame is
 * short; large enough that per-request costs (a JSON header, a hash call, a disk write) stay under 1%. 4 MiB caps
 * the memory one request in flight can hold.
 */
export function choosePieceSize (size: number): number {
  let pieceSize = DEFAULT_MIN_PIECE_SIZE
  while (pieceSize < MAX_PIECE_SIZE && pieceSize * TARGET_PIECE_COUNT < size) pieceSize *= 2
  return pieceSize
}

/** True for a power of two within [MIN_PIECE_SIZE, MAX_PIECE_SIZE]. */
export function isValidPieceSize (pieceSize: number): boolean {
  return Number.isInteger(pieceSize) && pieceSize >= MIN_PIECE_SIZE && pieceSize <= MAX_PIECE_SIZE && (pieceSize & (pieceSize - 1)) === 0
}

export function pieceCount (size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize)
}

/** True when a blob of `size` cut at `pieceSize` stays within MAX_PIECES. */
export function fitsPieceLimit (size: number, pieceSize: number): boolean {
  return pieceCount(size, pieceSize) <= MAX_PIECES
}

/** Byte range [start, end) of piece `index`. */
export function pieceRange (index: number, size: number, pieceSize: number): { start: number, end: number } {
  const start = index * pieceSize
  if (!Number.isInteger(index) || index < 0 || start >= size) throw new RangeError(`piece ${index} is outside a blob of ${size} bytes`)
  return { start, end: Math.min(size, start + pieceSize) }
}

export function pieceLength (index: number, size: number, pieceSize: number): number {
  const { start, end } = pieceRange(index, size, pieceSize)
  return end - start
}
