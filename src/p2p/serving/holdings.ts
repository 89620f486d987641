/**
 * What this node can serve (docs/protocol.md §5): complete blobs from the store, and blobs still being pulled,
 * whose verified pieces are served from the partial file as soon as they are verified. Also remembers which
 * peers asked for or serve a blob, for peer exchange in HAVE answers.
 */
import { join } from 'node:path'
import type { Digest } from '../../oci/digest.ts'
import type { Store } from '../../store/store.ts'
import { isErrno } from '../../util/errors.ts'
import { FileCache } from './file-cache.ts'
import { Bitfield } from '../pieces/bitfield.ts'
import { MAX_PEX_PEERS } from '../constants.ts'
import { PieceListStore, type PieceList } from '../pieces/piece-list.ts'
import { isValidPieceSize, pieceCount, pieceRange } from '../pieces/pieces.ts'
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
 * Piece bytes (of piece `index`, which differs from the one asked for when the requester offered others), with
 * the download's verified pieces when read from a partial, or the super-seeding hint when read from a complete
 * blob; or why there are none.
 */
export type PieceRead =
  | { index: number, bytes: Uint8Array, verified?: Bitfield, suggest?: Bitfield }
  | { missing: 'blob' | 'piece' | 'piece-size' }
  | { deferred: Bitfield }

const PEX_TTL_MS = 10 * 60_000
/** How often a peer watching a blob (long-polled HAVE) is told the blob's other peers again. */
const PEX_REFRESH_MS = 2_000
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
  /** When each `digest peer` last got the blob's peers in a watching HAVE's answer. */
  private readonly pexSent = new Map<string, number>()
  /** Waiting HAVE requests per digest, woken when a download verifies a piece or ends. */
  private readonly watchers = new Map<Digest, Set<() => void>>()

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
      this.pieceAdded(download.digest)
    }
  }

  /** A download verified a piece (or ended): wakes the HAVE requests waiting on it. */
  pieceAdded (digest: Digest): void {
    const waiting = this.watchers.get(digest)
    if (waiting === undefined) return
    this.watchers.delete(digest)
    for (const wake of waiting) wake()
  }

  /**
   * Waits until a download of `digest` holds a verified piece that is not in `known` (a bitfield of that many
   * pieces, base64), or has ended, or `ms` passed (a long-polled HAVE, docs/protocol.md §4.1). Returns at once
   * when there is no download, or it already holds something new.
   */
  async waitForNews (digest: Digest, known: string, ms: number, signal: AbortSignal): Promise<void> {
    const download = this.downloads.get(digest)
    if (download === undefined) return
    let seen: Bitfield
    try {
      seen = Bitfield.fromBase64(known, download.verified.length)
    } catch {
      return
    }
    const news = (): boolean => this.downloads.get(digest) !== download || [...download.verified.indices()].some(i => !seen.has(i))
    const deadline = Date.now() + ms
    while (!news() && !signal.aborted && Date.now() < deadline) {
      await new Promise<void>(resolve => {
        const done = (): void => {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          this.watchers.get(digest)?.delete(done)
          resolve()
        }
        const timer = setTimeout(done, deadline - Date.now())
        signal.addEventListener('abort', done, { once: true })
        const waiting = this.watchers.get(digest) ?? new Set()
        waiting.add(done)
        this.watchers.set(digest, waiting)
      })
    }
  }

  async lookup (digest: Digest): Promise<Holding | undefined> {
    // A blob still downloading is not in the store: no need to look (every HAVE of a watcher would).
    const active = this.downloads.get(digest)
    if (active !== undefined && !active.verified.isComplete()) return this.partialHolding(active)
    const size = await this.files.size(this.store.paths.blob(digest))
    if (size !== undefined) {
      const list = await this.pieceLists.get(digest, size)
      const pieceSize = list?.pieceSize ?? this.pieceSizeFor(size)
      const suggest = this.uploads.suggest(digest, pieceSize, pieceCount(size, pieceSize))
      return { digest, size, pieceSize, complete: true, ...(suggest !== undefined ? { suggest } : {}) }
    }
    const download = this.downloads.get(digest)
    return download !== undefined ? this.partialHolding(download) : undefined
  }

  private partialHolding (download: ActiveDownload): Holding {
    return { digest: download.digest, size: download.size, pieceSize: download.list.pieceSize, complete: false, verified: download.verified.clone() }
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
   * partial. `want` (base64, one bit per piece) names the pieces the requester would take instead: a complete
   * holder then sends the one it sent least, a partial holder one it has when it lacks `index` (super-seeding,
   * upload-counts.ts). Without `want`, a complete blob's piece that went out recently while others did not is
   * deferred once per requester. Throws MalformedMessageError for a `want` of the wrong length.
   */
  async readPiece (digest: Digest, index: number, pieceSize: number, requester: string, want?: string): Promise<PieceRead> {
    if (!isValidPieceSize(pieceSize)) return { missing: 'piece-size' }
    const blobPath = this.store.paths.blob(digest)
    const active = this.downloads.get(digest)
    // A blob still downloading is not in the store yet: serve it from the partial without looking.
    const size = active !== undefined && !active.verified.isComplete() && active.list.pieceSize === pieceSize ? undefined : await this.files.size(blobPath)
    if (size !== undefined) {
      const count = pieceCount(size, pieceSize)
      if (index >= count) return { missing: 'piece' }
      // Choose (or check) and count in one synchronous step, so that concurrent requests see each other.
      let chosen = index
      if (want !== undefined) {
        chosen = this.uploads.pick(digest, pieceSize, count, index, Bitfield.fromBase64(want, count)) ?? index
      } else {
        if (this.uploads.defer(digest, pieceSize, count, index, requester)) {
          const deferred = this.uploads.suggest(digest, pieceSize, count)
          if (deferred !== undefined) return { deferred }
        }
        this.uploads.note(digest, pieceSize, count, index)
      }
      const { start, end } = pieceRange(chosen, size, pieceSize)
      const bytes = await this.files.read(blobPath, start, end)
      if (bytes !== undefined) {
        const suggest = this.uploads.suggest(digest, pieceSize, count)
        return { index: chosen, bytes, ...(suggest !== undefined ? { suggest } : {}) }
      }
    }
    const download = this.downloads.get(digest)
    if (download === undefined) return { missing: 'blob' }
    if (download.list.pieceSize !== pieceSize) return { missing: 'piece-size' }
    const count = download.verified.length
    if (index >= count) return { missing: 'piece' }
    let chosen: number | undefined = index
    if (download.verified.has(index)) {
      this.uploads.note(digest, pieceSize, count, index)
    } else {
      chosen = want !== undefined ? this.uploads.pick(digest, pieceSize, count, index, Bitfield.fromBase64(want, count), download.verified) : undefined
    }
    if (chosen === undefined) return { missing: 'piece' }
    const { start, end } = pieceRange(chosen, download.size, pieceSize)
    const bytes = await this.files.read(download.path, start, end) ?? await this.files.read(blobPath, start, end)
    return bytes !== undefined ? { index: chosen, bytes, verified: download.verified.clone() } : { missing: 'blob' }
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

  /** True (and noted) when `peer` has not been told the peers of `digest` within PEX_REFRESH_MS. */
  pexDue (digest: Digest, peer: string): boolean {
    const key = `${digest} ${peer}`
    const now = Date.now()
    if (now - (this.pexSent.get(key) ?? 0) < PEX_REFRESH_MS) return false
    if (this.pexSent.size >= 4096) this.pexSent.clear()
    this.pexSent.set(key, now)
    return true
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
