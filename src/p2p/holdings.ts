/**
 * What this node can serve (docs/protocol.md §5): complete blobs from the store, and blobs still being pulled,
 * whose verified pieces are served from the partial file as soon as they are verified. Also remembers which
 * peers asked for or serve a blob, for peer exchange in HAVE answers.
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { Digest } from '../oci/digest.ts'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'
import type { Bitfield } from './bitfield.ts'
import { MAX_PEX_PEERS } from './constants.ts'
import { PieceListStore, type PieceList } from './piece-list.ts'
import { isValidPieceSize, pieceCount, pieceRange } from './pieces.ts'
import { UploadCounts } from './upload-counts.ts'

/** A blob being pulled, as the puller registers it for serving. */
export interface ActiveDownload {
  digest: Digest
  size: number
  list: PieceList
  /** Pieces written and verified; the puller sets bits as pieces land. */
  verified: Bitfield
  /** The partial file holding the verified pieces. */
  path: string
  /** Peers the download is fetching from (peer exchange). */
  peers: () => string[]
}

export interface Holding {
  digest: Digest
  size: number
  pieceSize: number
  complete: boolean
  /** Verified pieces of an incomplete blob. */
  verified?: Bitfield
  /** Of a complete blob: the pieces this node has sent least (super-seeding hint). */
  suggest?: Bitfield
}

/**
 * Piece bytes, with the download's verified pieces when read from a partial, or the super-seeding hint when
 * read from a complete blob; or why there are none.
 */
export type PieceRead =
  | { bytes: Uint8Array, verified?: Bitfield, suggest?: Bitfield }
  | { missing: 'blob' | 'piece' | 'piece-size' }
  | { deferred: Bitfield }

const PEX_TTL_MS = 10 * 60_000
const PEX_MAX_DIGESTS = 1024
const PEX_MAX_PEERS_PER_DIGEST = 64

export class Holdings {
  readonly pieceLists: PieceListStore
  readonly uploads = new UploadCounts()
  private readonly store: Store
  private readonly pieceSizeFor: (size: number) => number
  private readonly downloads = new Map<Digest, ActiveDownload>()
  private readonly seen = new Map<Digest, Map<string, number>>()

  constructor (store: Store, pieceSizeFor: (size: number) => number) {
    this.store = store
    this.pieceSizeFor = pieceSizeFor
    this.pieceLists = new PieceListStore(join(store.paths.privateDir, 'pieces'), store.paths.tmpDir)
  }

  /** Serves a download's verified pieces until the returned function is called. */
  registerDownload (download: ActiveDownload): () => void {
    this.downloads.set(download.digest, download)
    return () => {
      if (this.downloads.get(download.digest) === download) this.downloads.delete(download.digest)
    }
  }

  async lookup (digest: Digest): Promise<Holding | undefined> {
    const info = await this.store.blobs.stat(digest)
    if (info !== undefined) {
      const list = await this.pieceLists.get(digest, info.size)
      const pieceSize = list?.pieceSize ?? this.pieceSizeFor(info.size)
      const suggest = this.uploads.suggest(digest, pieceSize, pieceCount(info.size, pieceSize))
      return { digest, size: info.size, pieceSize, complete: true, ...(suggest !== undefined ? { suggest } : {}) }
    }
    const download = this.downloads.get(digest)
    if (download === undefined) return undefined
    return { digest, size: download.size, pieceSize: download.list.pieceSize, complete: false, verified: download.verified.clone() }
  }

  /** The piece list of a complete blob (computed on first request) or of a download in progress. */
  async pieceList (digest: Digest): Promise<PieceList | undefined> {
    const info = await this.store.blobs.stat(digest)
    if (info !== undefined) {
      try {
        return await this.pieceLists.forBlob(digest, this.store.paths.blob(digest), info.size, this.pieceSizeFor(info.size))
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err
      }
    }
    return this.downloads.get(digest)?.list
  }

  /**
   * Reads piece `index` cut at `pieceSize`: any valid size from a complete blob, the download's own from a
   * partial. A complete blob's piece that already went out more often than others is deferred once per
   * requester (super-seeding, upload-counts.ts).
   */
  async readPiece (digest: Digest, index: number, pieceSize: number, requester: string): Promise<PieceRead> {
    if (!isValidPieceSize(pieceSize)) return { missing: 'piece-size' }
    const info = await this.store.blobs.stat(digest)
    if (info !== undefined) {
      const count = pieceCount(info.size, pieceSize)
      if (index >= count) return { missing: 'piece' }
      // Check and count in one synchronous step, so that concurrent requests see each other.
      if (this.uploads.defer(digest, pieceSize, count, index, requester)) {
        const deferred = this.uploads.suggest(digest, pieceSize, count)
        if (deferred !== undefined) return { deferred }
      }
      this.uploads.note(digest, pieceSize, count, index)
      const bytes = await readRange(this.store.paths.blob(digest), pieceRange(index, info.size, pieceSize))
      if (bytes !== undefined) {
        const suggest = this.uploads.suggest(digest, pieceSize, count)
        return { bytes, ...(suggest !== undefined ? { suggest } : {}) }
      }
    }
    const download = this.downloads.get(digest)
    if (download === undefined) return { missing: 'blob' }
    if (download.list.pieceSize !== pieceSize) return { missing: 'piece-size' }
    if (!download.verified.has(index)) return { missing: 'piece' }
    const bytes = await readRange(download.path, pieceRange(index, download.size, pieceSize))
    if (bytes !== undefined) return { bytes, verified: download.verified.clone() }
    // The download committed (renamed its file) between the checks: the store has it now.
    const committed = await readRange(this.store.paths.blob(digest), pieceRange(index, download.size, pieceSize))
    return committed !== undefined ? { bytes: committed } : { missing: 'blob' }
  }

  /** Records that `peer` fetches or holds `digest`. */
  notePeer (digest: Digest, peer: string): void {
    let peers = this.seen.get(digest)
    if (peers === undefined) {
      if (this.seen.size >= PEX_MAX_DIGESTS) this.seen.delete(this.seen.keys().next().value as Digest)
      peers = new Map()
      this.seen.set(digest, peers)
    }
    peers.delete(peer)
    peers.set(peer, Date.now())
    if (peers.size > PEX_MAX_PEERS_PER_DIGEST) peers.delete(peers.keys().next().value as string)
  }

  /** Peers known to fetch or hold `digest`, most recent first, without `exclude`. */
  peersFor (digest: Digest, exclude: string): string[] {
    const now = Date.now()
    const result = new Set<string>(this.downloads.get(digest)?.peers() ?? [])
    const seen = [...(this.seen.get(digest) ?? new Map<string, number>()).entries()].reverse()
    for (const [peer, at] of seen) if (now - at < PEX_TTL_MS) result.add(peer)
    result.delete(exclude)
    return [...result].slice(0, MAX_PEX_PEERS)
  }
}

/** Reads [start, end) of a file; undefined when the file is gone. */
async function readRange (path: string, range: { start: number, end: number }): Promise<Uint8Array | undefined> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
  try {
    const length = range.end - range.start
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, range.start + done)
      if (bytesRead === 0) return undefined
      done += bytesRead
    }
    return buffer
  } finally {
    await handle.close()
  }
}
