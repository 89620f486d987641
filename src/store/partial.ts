/**
 * Partial blobs: a blob being received, kept in `.emergence/partial/` until it is complete and verified, so a
 * transfer interrupted by a crash or a restart resumes from what it already has. Pieces may arrive in any order
 * (`writeAt`); the caller records which ones it has verified in the blob's state file. Only `commit()` makes the
 * blob visible, after hashing the whole file against its digest. One process holds a partial at a time.
 */
import { createReadStream } from 'node:fs'
import { open, readFile, rm, stat, mkdir, type FileHandle } from 'node:fs/promises'
import lockfile from 'proper-lockfile'
import { digestAlgorithm, type Digest } from '../oci/digest.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'
import { DigestMismatchError, SizeMismatchError } from './errors.ts'
import { HashingCounter, type BlobInfo, type FsBlobStore } from './blob-store.ts'
import type { Lease } from './leases.ts'
import type { LayoutPaths } from './paths.ts'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'

/** What a partial blob remembers across restarts: its size, the verified prefix, and the caller's piece state. */
export interface PartialState {
  size: number
  /** Bytes from offset 0 known to be written and flushed (sequential transfers). */
  contiguous: number
  /** Free-form state of the piece exchange (piece size, verified piece bitmap, piece hash list). */
  pieces?: unknown
}

export class PartialBlob {
  readonly digest: Digest
  readonly size: number
  readonly path: string
  private readonly handle: FileHandle
  private state: PartialState
  private readonly unlock: () => Promise<void>
  private readonly blobs: FsBlobStore
  private closed = false

  constructor (digest: Digest, size: number, path: string, handle: FileHandle, state: PartialState, unlock: () => Promise<void>, blobs: FsBlobStore) {
    this.digest = digest
    this.size = size
    this.path = path
    this.handle = handle
    this.state = state
    this.unlock = unlock
    this.blobs = blobs
  }

  get contiguous (): number {
    return this.state.contiguous
  }

  get pieces (): unknown {
    return this.state.pieces
  }

  /** Writes bytes at an offset; they count for nothing until the caller records them in the state. */
  async writeAt (offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0 || offset + data.byteLength > this.size) throw new SizeMismatchError(this.digest, this.size, offset + data.byteLength)
    let written = 0
    while (written < data.byteLength) {
      const { bytesWritten } = await this.handle.write(data, written, data.byteLength - written, offset + written)
      written += bytesWritten
    }
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

  /** Hashes the whole file; if it matches, moves it into `blobs/` and drops the partial. */
  async commit (lease?: Lease): Promise<BlobInfo> {
    await this.handle.sync()
    const counter = new HashingCounter(digestAlgorithm(this.digest), this.size, actual => new SizeMismatchError(this.digest, this.size, actual))
    await pipeline(createReadStream(this.path, { highWaterMark: 1024 * 1024 }), counter, new Writable({ write: (_c, _e, cb) => { cb() } }))
    const actual = `${digestAlgorithm(this.digest)}:${counter.hash.digest('hex')}`
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
    await this.handle.close()
    await this.unlock()
  }
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
