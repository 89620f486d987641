/**
 * Partial blobs: a blob being received, kept in `.emergence/partial/` until it is complete and verified, so a
 * transfer interrupted by a crash or a restart resumes from what it already has. Pieces may arrive in any order
 * (`writeAt`, `writev`); the caller records which ones it has verified in the blob's state file. Only `commit()`
 * makes the blob visible, after hashing the whole file against its digest. One process holds a partial at a time.
 *
 * The whole-blob hash cannot be computed out of order, but pieces often arrive in order: the prefix written so
 * far is hashed as it grows (from the bytes being written, or read back when a gap closes), so `commit()` only
 * reads what was not hashed yet. A write into the hashed prefix voids it and the commit hashes the whole file.
 */
import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readFile, rm, stat, mkdir, type FileHandle } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import lockfile from 'proper-lockfile'
import { digestAlgorithm, type Digest } from '../oci/digest.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'
import { DigestMismatchError, SizeMismatchError } from './errors.ts'
import { HashingCounter, type BlobInfo, type FsBlobStore } from './blob-store.ts'
import type { Lease } from './leases.ts'
import type { LayoutPaths } from './paths.ts'

/** What a partial blob remembers across restarts: its size, the verified prefix, and the caller's piece state. */
export interface PartialState {
  size: number
  /** Bytes from offset 0 known to be written and flushed (sequential transfers). */
  contiguous: number
  /** Free-form state of the piece exchange (piece size, verified piece bitmap, piece hash list). */
  pieces?: unknown
}

/** How much a gap-closing catch-up reads at a time. */
const READ_BACK = 1024 * 1024

/**
 * Bytes of partial blobs the running whole-blob hash took (process-wide, for benchmarks and metrics): as they
 * were written at the end of the hashed prefix, read back from the file when a gap closed (pieces that came
 * out of order), and read at commit (a prefix voided by a rewrite, or never reached).
 */
export const prefixHashCounts = { inOrder: 0, readBack: 0, atCommit: 0 }

export class PartialBlob {
  readonly digest: Digest
  readonly size: number
  readonly path: string
  private readonly handle: FileHandle
  private state: PartialState
  private readonly unlock: () => Promise<void>
  private readonly blobs: FsBlobStore
  private closed = false
  /** The running hash of bytes [0, hashed); undefined once a write into the prefix voided it. */
  private hash: Hash | undefined
  private hashed = 0
  /** Written ranges beyond the hashed prefix (offset -> end), hashed when the prefix reaches them. */
  private readonly ahead = new Map<number, number>()
  /** Ranges being written now (start, end). */
  private readonly writing = new Set<[number, number]>()
  /** The catch-up reading written ranges back into the hash, and the end of the range it is at. */
  private catchingUp: Promise<void> | undefined
  private catchUpEnd = 0

  constructor (digest: Digest, size: number, path: string, handle: FileHandle, state: PartialState, unlock: () => Promise<void>, blobs: FsBlobStore) {
    this.digest = digest
    this.size = size
    this.path = path
    this.handle = handle
    this.state = state
    this.unlock = unlock
    this.blobs = blobs
    this.hash = createHash(digestAlgorithm(digest))
  }

  get contiguous (): number {
    return this.state.contiguous
  }

  get pieces (): unknown {
    return this.state.pieces
  }

  /** Bytes from offset 0 already in the running hash: the commit reads only the rest back. */
  get prefixHashed (): number {
    return this.hash !== undefined ? this.hashed : 0
  }

  /** Writes bytes at an offset; they count for nothing until the caller records them in the state. */
  async writeAt (offset: number, data: Uint8Array): Promise<void> {
    await this.writev(offset, [data])
  }

  /** Writes chunks one after another from an offset (a piece as it came off the wire, without joining it). */
  async writev (offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    const length = chunks.reduce((sum, c) => sum + c.byteLength, 0)
    if (offset < 0 || offset + length > this.size) throw new SizeMismatchError(this.digest, this.size, offset + length)
    if (length === 0) return
    // Rewriting bytes written before (or being written) voids the running hash: the commit then hashes it all.
    if (this.overlapsWritten(offset, offset + length)) this.hash = undefined
    const range: [number, number] = [offset, offset + length]
    this.writing.add(range)
    let hashed = false
    try {
      const written = this.writeAll(offset, chunks)
      // Bytes that extend the hashed prefix are hashed from memory while the disk write runs: the order in which
      // writes finish (the thread pool's) does not matter, only the order in which pieces reach us.
      hashed = this.hashInOrder(offset, chunks, length)
      await written
    } catch (err) {
      if (hashed) this.hash = undefined
      throw err
    } finally {
      this.writing.delete(range)
    }
    if (hashed || this.hash === undefined) return
    // A catch-up that is reading back the ranges before this one may end where it starts: wait for it, and hash
    // these bytes from memory rather than read them back too (one late piece would otherwise drag all that follow).
    while (this.catchingUp !== undefined && offset >= this.catchUpEnd) await this.catchingUp
    if (!this.hashInOrder(offset, chunks, length) && offset > this.hashed) this.ahead.set(offset, offset + length)
    this.catchUp()
  }

  private async writeAll (offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    let rest = chunks.filter(c => c.byteLength > 0)
    let position = offset
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest, position)
      position += bytesWritten
      rest = skip(rest, bytesWritten)
    }
  }

  /** Hashes `chunks` into the running hash if they start where the hashed prefix ends (and no catch-up runs). */
  private hashInOrder (offset: number, chunks: readonly Uint8Array[], length: number): boolean {
    if (this.hash === undefined || offset !== this.hashed || this.catchingUp !== undefined) return false
    for (const chunk of chunks) this.hash.update(chunk)
    this.hashed += length
    prefixHashCounts.inOrder += length
    return true
  }

  /** Appends a stream after the verified prefix, moving the prefix forward as bytes are flushed. */
  async append (source: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    let offset = this.state.contiguous
    const sink = new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.writeAt(offset, chunk).then(() => { offset += chunk.byteLength; callback() }, callback)
      }
    })
    try {
      await pipeline(source, sink, signal !== undefined ? { signal } : {})
    } finally {
      await this.handle.sync()
      await this.saveState({ contiguous: offset })
    }
  }

  /** Flushes data, then records `change` in the state file (data first, so the state never overstates). */
  async saveState (change: Partial<Omit<PartialState, 'size'>>): Promise<void> {
    await this.handle.sync()
    this.state = { ...this.state, ...change }
    await writeFileAtomic(this.path + '.json', JSON.stringify(this.state))
  }

  /** Hashes the file (what the running hash has not covered); if it matches, moves it into `blobs/` and drops the partial. */
  async commit (lease?: Lease): Promise<BlobInfo> {
    await this.catchingUp
    await this.handle.sync()
    let hash = this.hash
    let from = this.hashed
    if (hash === undefined) {
      hash = createHash(digestAlgorithm(this.digest))
      from = 0
    }
    this.hash = undefined
    if (from < this.size) {
      prefixHashCounts.atCommit += this.size - from
      const counter = new HashingCounter(digestAlgorithm(this.digest), this.size - from, actual => new SizeMismatchError(this.digest, this.size, from + actual))
      await pipeline(createReadStream(this.path, { start: from, highWaterMark: 1024 * 1024 }), counter, new Writable({ write: (chunk: Buffer, _e, cb) => { hash.update(chunk); cb() } }))
    }
    const actual = `${digestAlgorithm(this.digest)}:${hash.digest('hex')}`
    if (actual !== this.digest) {
      await this.discard()
      throw new DigestMismatchError(this.digest, actual)
    }
    await this.close()
    const info = await this.blobs.commitTemp(this.path, this.digest, this.size, lease)
    await rm(this.path + '.json', { force: true })
    return info
  }

  /** Deletes the partial and its state. */
  async discard (): Promise<void> {
    await this.close()
    await rm(this.path, { force: true })
    await rm(this.path + '.json', { force: true })
  }

  /** Releases the file and the lock, keeping the data for a later resume. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.hash = undefined
    await this.catchingUp
    await this.handle.close()
    await this.unlock()
  }

  private overlapsWritten (start: number, end: number): boolean {
    if (start < Math.max(this.hashed, this.catchUpEnd)) return true
    for (const [a, b] of this.ahead) if (start < b && a < end) return true
    for (const [a, b] of this.writing) if (start < b && a < end) return true
    return false
  }

  /** Reads written ranges that the hashed prefix has reached back into the running hash, one at a time. */
  private catchUp (): void {
    if (this.catchingUp !== undefined || !this.ahead.has(this.hashed)) return
    this.catchingUp = (async () => {
      const buffer = Buffer.allocUnsafe(READ_BACK)
      try {
        for (let end = this.ahead.get(this.hashed); end !== undefined && this.hash !== undefined; end = this.ahead.get(this.hashed)) {
          this.ahead.delete(this.hashed)
          this.catchUpEnd = end
          while (this.hashed < end && this.hash !== undefined) {
            const { bytesRead } = await this.handle.read(buffer, 0, Math.min(READ_BACK, end - this.hashed), this.hashed)
            if (bytesRead === 0) throw new Error('the partial file is shorter than its written ranges')
            this.hash?.update(buffer.subarray(0, bytesRead))
            this.hashed += bytesRead
            prefixHashCounts.readBack += bytesRead
          }
        }
      } catch {
        // The commit hashes from the file itself.
        this.hash = undefined
      } finally {
        this.catchUpEnd = 0
        this.catchingUp = undefined
      }
    })()
  }
}

/** The chunks left after the first `bytes` bytes. */
function skip (chunks: Uint8Array[], bytes: number): Uint8Array[] {
  let left = bytes
  const rest: Uint8Array[] = []
  for (const chunk of chunks) {
    if (left >= chunk.byteLength) {
      left -= chunk.byteLength
      continue
    }
    rest.push(left > 0 ? chunk.subarray(left) : chunk)
    left = 0
  }
  return rest
}

async function loadState (path: string, size: number): Promise<PartialState> {
  try {
    const state = JSON.parse(await readFile(path + '.json', 'utf8')) as PartialState
    const onDisk = await stat(path)
    if (state.size === size && Number.isInteger(state.contiguous) && state.contiguous <= onDisk.size) return state
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err
  }
  return { size, contiguous: 0 }
}

/** Opens (or creates) the partial blob for `digest`, locked for this process until close/commit/discard. */
export async function openPartial (paths: LayoutPaths, blobs: FsBlobStore, digest: Digest, size: number): Promise<PartialBlob> {
  await mkdir(paths.partialDir, { recursive: true })
  const path = paths.partial(digest)
  const handle = await open(path, 'a+').then(async h => { await h.close(); return await open(path, 'r+') })
  let unlock: () => Promise<void>
  try {
    unlock = await lockfile.lock(path, { stale: 10_000, update: 2_000, realpath: false, retries: { retries: 50, minTimeout: 20, maxTimeout: 500 } })
  } catch (err) {
    await handle.close()
    throw err
  }
  const state = await loadState(path, size)
  if (state.contiguous === 0 && state.pieces === undefined) await handle.truncate(0)
  await handle.truncate(size)
  return new PartialBlob(digest, size, path, handle, state, unlock, blobs)
}
