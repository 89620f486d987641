/**
 * Pieces: how a blob is cut and how each part is checked (docs/protocol.md §3).
 *
 * The contract:
 * - **A blob's piece size is a function of its size** (`choosePieceSize`): every peer cuts the same blob the same
 *   way, so piece lists from different peers can be compared.
 * - **A piece list is trusted only once it hashes to what the requester asked for**: a blob small enough for one
 *   piece is its own list (`impliedPieceList`); otherwise the list's own digest is checked before any piece is
 *   matched against it (`pieceMatches`). The whole-blob digest is still checked at commit.
 * - `Bitfield` records which pieces a peer or a partial blob holds; `ListBook` keeps the lists a pull has learnt,
 *   carrying verified pieces over when a better list arrives.
 */
export { Bitfield } from './bitfield.ts'
export { choosePieceSize, isValidPieceSize, pieceCount, pieceRange, pieceLength, fitsPieceLimit } from './pieces.ts'
export { computePieceList, pieceMatches, hashChunks, makePieceList, impliedPieceList, countOf, PieceListStore, type PieceList } from './piece-list.ts'
export { ListBook, carryOver } from './list-book.ts'
