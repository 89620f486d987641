/**
 * What this node can serve (docs/protocol.md §5): complete blobs from the store, and blobs still being pulled,
 * whose verified pieces are served from the partial file as soon as they are verified. Also remembers which
 * peers asked for or serve a blob, for peer exchange in HAVE answers.
 */
import { join } from 'node:path'
import type { Digest } from '../oci/digest.ts'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'
import { FileCache } from './file-cache.ts'
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
  private readonly files = new FileCache()

  constructor (store: Store, pieceSizeFor: (size: number) => number) {
    this.store = store
    this.pieceSizeFor = pieceSizeFor
    this.pieceLists = new PieceListStore(join(store.paths.privateDir, 'pieces'), store.paths.tmpDir)
  }

  /** Serves a download's verified pieces until the returned function is called. */
  registerDownload (download: ActiveDownload): () => void {
    // A partial file at this path may have been discarded and created anew: never read it through an old handle.
    this.files.evict(download.path)
    this.downloads.set(download.digest, download)
    return () => {
      if (this.downloads.get(download.digest) === download) this.downloads.delete(download.digest)
      this.files.evict(download.path)
    }
  }

  async lookup (digest: Digest): Promise<Holding | undefined> {
    const size = await this.files.size(this.store.paths.blob(digest))
    if (size !== undefined) {
      const list = await this.pieceLists.get(digest, size)
      const pieceSize = list?.pieceSize ?? this.pieceSizeFor(size)
      const suggest = this.uploads.suggest(digest, pieceSize, pieceCount(size, pieceSize))
      return { digest, size, pieceSize, complete: true, ...(suggest !== undefined ? { suggest } : {}) }
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
    const blobPath = this.store.paths.blob(digest)
    const size = await this.files.size(blobPath)
    if (size !== undefined) {
      const count = pieceCount(size, pieceSize)
      if (index >= count) return { missing: 'piece' }
      // Check and count in one synchronous step, so that concurrent requests see each other.
      if (this.uploads.defer(digest, pieceSize, count, index, requester)) {
        const deferred = this.uploads.suggest(digest, pieceSize, count)
        if (deferred !== undefined) return { deferred }
      }
      this.uploads.note(digest, pieceSize, count, index)
      const { start, end } = pieceRange(index, size, pieceSize)
      const bytes = await this.files.read(blobPath, start, end)
      if (bytes !== undefined) {
        const suggest = this.uploads.suggest(digest, pieceSize, count)
        return { bytes, ...(suggest !== undefined ? { suggest } : {}) }
      }
    }
    const download = this.downloads.get(digest)
    if (download === undefined) return { missing: 'blob' }
    if (download.list.pieceSize !== pieceSize) return { missing: 'piece-size' }
    if (!download.verified.has(index)) return { missing: 'piece' }
    const { start, end } = pieceRange(index, download.size, pieceSize)
    const bytes = await this.files.read(download.path, start, end) ?? await this.files.read(blobPath, start, end)
    return bytes !== undefined ? { bytes, verified: download.verified.clone() } : { missing: 'blob' }
  }

  /** A blob was deleted: stop reading it through a cached handle. */
  forget (digest: Digest): void {
    this.files.evict(this.store.paths.blob(digest))
  }

  /** Closes cached file handles (on stop). */
  async close (): Promise<void> {
    await this.files.close()
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
