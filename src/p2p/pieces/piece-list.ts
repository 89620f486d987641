/**
 * Piece hash lists (docs/protocol.md §3): the sha256 of every piece of a blob. A holder computes the list once
 * from the verified blob and keeps it beside the blob in `<store root>/.emergence/pieces/` (a sidecar keyed by
 * digest). A receiver takes a list from any peer and checks every piece against it; the list itself cannot be
 * checked until the whole blob hashes to its digest, which stays the root of trust.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { digestAlgorithm, digestHex, type Digest } from '../../oci/digest.ts'
import { isErrno } from '../../util/errors.ts'
import { writeFileAtomic } from '../../util/fs.ts'
import { PIECE_HASH_LENGTH } from '../constants.ts'
import { InvalidPieceListError } from '../errors.ts'
import { fitsPieceLimit, isValidPieceSize, pieceCount } from './pieces.ts'

export interface PieceList {
  size: number
  pieceSize: number
  /** `count * 32` bytes: the sha256 of piece 0, then piece 1, ... */
  hashes: Uint8Array
}

/** Validates a list received from a peer (or read from disk) against the size we expect. */
export function makePieceList (digest: Digest, size: number, pieceSize: number, hashes: Uint8Array): PieceList {
  if (!isValidPieceSize(pieceSize)) throw new InvalidPieceListError(digest, `piece size ${pieceSize} is not a power of two in range`)
  if (!fitsPieceLimit(size, pieceSize)) throw new InvalidPieceListError(digest, `${size} bytes in ${pieceSize}-byte pieces is too many pieces`)
  const expected = pieceCount(size, pieceSize) * PIECE_HASH_LENGTH
  if (hashes.byteLength !== expected) {
    throw new InvalidPieceListError(digest, `${hashes.byteLength / PIECE_HASH_LENGTH} hashes for ${pieceCount(size, pieceSize)} pieces of a ${size}-byte blob`)
  }
  return { size, pieceSize, hashes }
}

/**
 * The list of a blob that fits in one piece and has a sha256 digest: the hash of its only piece is the digest
 * itself, so no peer need give it (and none can lie about it). Undefined for any other blob.
 */
export function impliedPieceList (digest: Digest, size: number, pieceSize: number): PieceList | undefined {
  if (digestAlgorithm(digest) !== 'sha256' || size === 0 || size > pieceSize) return undefined
  return makePieceList(digest, size, pieceSize, Buffer.from(digestHex(digest), 'hex'))
}

export function countOf (list: PieceList): number {
  return list.hashes.byteLength / PIECE_HASH_LENGTH
}

/** The sha256 of bytes given as chunks (a piece as it came off the wire). */
export function hashChunks (chunks: Iterable<Uint8Array>): Uint8Array {
  const hash = createHash('sha256')
  for (const chunk of chunks) hash.update(chunk)
  return hash.digest()
}

/** True when `chunks` hash to the list's entry for piece `index`; `sha256`, when given, is their hash taken on arrival. */
export function pieceMatches (list: PieceList, index: number, chunks: Iterable<Uint8Array>, sha256?: Uint8Array): boolean {
  const expected = list.hashes.subarray(index * PIECE_HASH_LENGTH, (index + 1) * PIECE_HASH_LENGTH)
  return expected.byteLength === PIECE_HASH_LENGTH && Buffer.from(sha256 ?? hashChunks(chunks)).equals(expected)
}

/** How much of the file `computePieceList` reads at a time, into one buffer it reuses. */
const LIST_READ = 1024 * 1024

/**
 * Hashes a file piece by piece; it must hold exactly `size` bytes. One buffer is read into again and again: a
 * stream's fresh buffer per read made a holder's memory peak at ~75 MB over its idle size while it hashed 256 MiB
 * (docs/benchmarks.md, "Peak memory").
 */
export async function computePieceList (path: string, size: number, pieceSize: number, signal?: AbortSignal): Promise<PieceList> {
  const hashes = new Uint8Array(pieceCount(size, pieceSize) * PIECE_HASH_LENGTH)
  const buffer = Buffer.allocUnsafe(Math.min(LIST_READ, pieceSize))
  const file = await open(path, 'r')
  try {
    let offset = 0
    for (let index = 0; offset < size; index++) {
      const hash = createHash('sha256')
      const end = Math.min(size, offset + pieceSize)
      while (offset < end) {
        signal?.throwIfAborted()
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.byteLength, end - offset), offset)
        if (bytesRead === 0) throw new InvalidPieceListError(path, `the file has ${offset} bytes, expected ${size}`)
        hash.update(buffer.subarray(0, bytesRead))
        offset += bytesRead
      }
      hashes.set(hash.digest(), index * PIECE_HASH_LENGTH)
    }
    const actual = (await file.stat()).size
    if (actual !== size) throw new InvalidPieceListError(path, `the file has ${actual} bytes, expected ${size}`)
  } finally {
    await file.close()
  }
  return { size, pieceSize, hashes }
}

interface SidecarJson {
  digest: string
  size: number
  pieceSize: number
  hashes: string
}

/** The sidecar directory of piece lists. Lists are trusted: computed here or confirmed by a whole-blob digest. */
export class PieceListStore {
  readonly dir: string
  private readonly tmpDir: string
  private readonly computing = new Map<string, Promise<PieceList>>()

  constructor (dir: string, tmpDir: string) {
    this.dir = dir
    this.tmpDir = tmpDir
  }

  path (digest: Digest): string {
    return join(this.dir, `${digestAlgorithm(digest)}-${digestHex(digest)}.json`)
  }

  /** The stored list for a blob of `size` bytes, or undefined when absent or stale. */
  async get (digest: Digest, size: number): Promise<PieceList | undefined> {
    let json: SidecarJson
    try {
      json = JSON.parse(await readFile(this.path(digest), 'utf8')) as SidecarJson
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined
      throw err
    }
    if (json.digest !== digest || json.size !== size || typeof json.hashes !== 'string') return undefined
    try {
      return makePieceList(digest, size, json.pieceSize, Buffer.from(json.hashes, 'base64'))
    } catch {
      return undefined
    }
  }

  async put (digest: Digest, list: PieceList): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const json: SidecarJson = { digest, size: list.size, pieceSize: list.pieceSize, hashes: Buffer.from(list.hashes).toString('base64') }
    await writeFileAtomic(this.path(digest), JSON.stringify(json), this.tmpDir)
  }

  async delete (digest: Digest): Promise<void> {
    await rm(this.path(digest), { force: true })
  }

  /** The stored list, else computes it from the blob file once (concurrent callers share the work) and stores it. */
  async forBlob (digest: Digest, blobPath: string, size: number, pieceSize: number): Promise<PieceList> {
    const stored = await this.get(digest, size)
    if (stored !== undefined) return stored
    const running = this.computing.get(digest)
    if (running !== undefined) return await running
    const work = (async () => {
      const list = await computePieceList(blobPath, size, pieceSize)
      await this.put(digest, list)
      return list
    })()
    this.computing.set(digest, work)
    try {
      return await work
    } finally {
      this.computing.delete(digest)
    }
  }
}
