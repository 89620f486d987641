/**
 * The blob contract every layer above uses, and its filesystem implementation on an OCI image layout.
 * A blob becomes visible at `blobs/<alg>/<hex>` only after its bytes were verified against digest and size
 * while streaming, fsynced, and renamed into place (docs/formats.md "OCI image layout": content addressable).
 */
import { createReadStream } from 'node:fs'
import { open, readdir, rename, rm, stat, mkdir } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { dirname } from 'node:path'
import { digestAlgorithm, isDigest, parseDigest, type Algorithm, type Digest } from '../oci/digest.ts'
import { fsyncDir, tempName } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'
import { BlobNotFoundError, DigestMismatchError, InvalidRangeError, SizeMismatchError } from './errors.ts'
import type { LayoutPaths } from './paths.ts'
import type { Lease } from './leases.ts'

/** Bytes to store: a stream, an async iterable of chunks, or chunks in memory. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface BlobInfo {
  digest: Digest
  size: number
}

/** Inclusive start, exclusive end (like `Buffer.subarray`); end defaults to the blob's size. */
export interface ByteRange {
  start: number
  end?: number
}

export interface WriteOptions {
  /** Expected size; bytes beyond it abort the write at once. */
  size?: number
  signal?: AbortSignal
  /** Keeps the new blob out of GC's reach until the lease is released (see leases.ts). */
  lease?: Lease
  /** Called with the running byte count, for progress. */
  onProgress?: (bytes: number) => void
  /**
   * The hex sha256 of `source`, when the caller has just computed it from these very bytes (a data lane hashes
   * a piece as it arrives): the bytes are then not hashed again, and this hash is checked against the digest
   * instead. Only for sha256 digests; never a hash taken from anyone else's word.
   */
  sha256?: string
}

export interface BlobStore {
  has: (digest: Digest) => Promise<boolean>
  stat: (digest: Digest) => Promise<BlobInfo | undefined>
  /** A stream of the blob's bytes, or of a range of them. Throws BlobNotFoundError or InvalidRangeError. */
  read: (digest: Digest, range?: ByteRange) => Promise<Readable>
  readBytes: (digest: Digest) => Promise<Uint8Array>
  /** Stores `source` if it hashes to `digest` (and has `size` bytes). Returns the blob, whether new or not. */
  write: (digest: Digest, source: ByteSource, options?: WriteOptions) => Promise<BlobInfo>
  /** Stores `source` under the digest its bytes hash to (for content whose digest is not known in advance). */
  add: (source: ByteSource, options?: Omit<WriteOptions, 'size' | 'sha256'>) => Promise<BlobInfo>
  delete: (digest: Digest) => Promise<boolean>
  list: () => AsyncIterable<Digest>
}

/** Counts and hashes bytes as they pass, and refuses more than `limit`. */
export class HashingCounter extends Transform {
  readonly hash
  bytes = 0
  private readonly limit: number | undefined
  private readonly onError: (actual: number) => Error
  private readonly onProgress: ((bytes: number) => void) | undefined

  constructor (algorithm: Algorithm, limit: number | undefined, onError: (actual: number) => Error, onProgress?: (bytes: number) => void) {
    super({ highWaterMark: 1024 * 1024 })
    this.hash = createHash(algorithm)
    this.limit = limit
    this.onError = onError
    this.onProgress = onProgress
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.byteLength
    if (this.limit !== undefined && this.bytes > this.limit) {
      callback(this.onError(this.bytes))
      return
    }
    this.hash.update(chunk)
    this.onProgress?.(this.bytes)
    callback(null, chunk)
  }
}

/** Writes go out in batches of about this many bytes: few syscalls, bounded memory. */
const WRITE_BATCH = 4 * 1024 * 1024

/**
 * Streams `source` into a new file at `path` while hashing it. Hashing chunk n+1 overlaps the write of chunk n
 * (at most two batches in memory), and the file is fsynced before this returns.
 */
export async function hashToFile (source: ByteSource, path: string, algorithm: Algorithm, limit: number | undefined,
  tooLarge: (actual: number) => Error, options: { signal?: AbortSignal, onProgress?: (bytes: number) => void, sha256?: string } = {}): Promise<{ hash: string, bytes: number }> {
  const known = algorithm === 'sha256' ? options.sha256 : undefined
  const hash = known === undefined ? createHash(algorithm) : undefined
  const handle = await open(path, 'wx', 0o644)
  let bytes = 0
  let pending: Promise<unknown> = Promise.resolve()
  let batch: Uint8Array[] = []
  let batchBytes = 0
  const flush = async (): Promise<void> => {
    const data = batch.length === 1 ? batch[0] as Uint8Array : Buffer.concat(batch)
    batch = []
    batchBytes = 0
    await pending
    pending = handle.write(data)
  }
  try {
    for await (const chunk of source) {
      options.signal?.throwIfAborted()
      bytes += chunk.byteLength
      if (limit !== undefined && bytes > limit) throw tooLarge(bytes)
      hash?.update(chunk)
      batch.push(chunk)
      batchBytes += chunk.byteLength
      if (batchBytes >= WRITE_BATCH) await flush()
      options.onProgress?.(bytes)
    }
    if (batchBytes > 0) await flush()
    await pending
    await handle.sync()
  } finally {
    await pending.catch(() => {})
    await handle.close()
  }
  return { hash: hash?.digest('hex') ?? known ?? '', bytes }
}

export class FsBlobStore implements BlobStore {
  private readonly paths: LayoutPaths

  constructor (paths: LayoutPaths) {
    this.paths = paths
  }

  async has (digest: Digest): Promise<boolean> {
    return (await this.stat(digest)) !== undefined
  }

  async stat (digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const info = await stat(this.paths.blob(parseDigest(digest)))
      return info.isFile() ? { digest, size: info.size } : undefined
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined
      throw err
    }
  }

  async read (digest: Digest, range?: ByteRange): Promise<Readable> {
    const info = await this.stat(digest)
    if (info === undefined) throw new BlobNotFoundError(digest)
    const start = range?.start ?? 0
    const end = range?.end ?? info.size
    if (start < 0 || end > info.size || start > end) throw new InvalidRangeError(start, end, info.size)
    // An empty range (or an empty blob): createReadStream cannot express it, its `end` is inclusive and >= 0.
    if (start === end) return Readable.from([])
    // createReadStream's `end` is inclusive.
    return createReadStream(this.paths.blob(digest), { start, end: end - 1, highWaterMark: 1024 * 1024 })
  }

  async readBytes (digest: Digest): Promise<Uint8Array> {
    const chunks: Buffer[] = []
    for await (const chunk of await this.read(digest)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }

  async write (digest: Digest, source: ByteSource, options: WriteOptions = {}): Promise<BlobInfo> {
    parseDigest(digest)
    // Lease before looking (gc.ts sweepBlobs): GC then either sees the lease or has already removed the blob.
    await options.lease?.add(digest)
    const existing = await this.stat(digest)
    if (existing !== undefined) {
      if (options.size !== undefined && existing.size !== options.size) throw new SizeMismatchError(digest, options.size, existing.size)
      return existing
    }
    const tooLarge = (actual: number): Error => new SizeMismatchError(digest, options.size ?? 0, actual)
    return await this.viaTemp(source, digestAlgorithm(digest), options.size, tooLarge, options, async (actual, bytes) => {
      if (actual !== digest) throw new DigestMismatchError(digest, actual)
      if (options.size !== undefined && bytes !== options.size) throw new SizeMismatchError(digest, options.size, bytes)
      return digest
    })
  }

  async add (source: ByteSource, options: Omit<WriteOptions, 'size' | 'sha256'> = {}): Promise<BlobInfo> {
    return await this.viaTemp(source, 'sha256', undefined, () => new Error('unreachable'), options, async actual => actual)
  }

  /**
   * Streams `source` into a temp file while hashing it, lets `accept` check the result, then commits the file
   * under the digest `accept` returns. The temp file is removed whatever happens.
   */
  private async viaTemp (source: ByteSource, algorithm: Algorithm, limit: number | undefined, tooLarge: (actual: number) => Error,
    options: Omit<WriteOptions, 'size'>, accept: (actual: Digest, bytes: number) => Promise<Digest>): Promise<BlobInfo> {
    await mkdir(this.paths.tmpDir, { recursive: true })
    const tmp = tempName(this.paths.tmpDir, 'blob')
    try {
      const { hash, bytes } = await hashToFile(source, tmp, algorithm, limit, tooLarge, options)
      const digest = await accept(`${algorithm}:${hash}`, bytes)
      await options.lease?.add(digest)
      if (await this.has(digest)) return { digest, size: bytes }
      return await this.commitTemp(tmp, digest, bytes, options.lease)
    } finally {
      await rm(tmp, { force: true })
    }
  }

  /** Moves a verified temp file into `blobs/`. A concurrent writer of the same blob renames identical bytes. */
  async commitTemp (tmp: string, digest: Digest, size: number, lease?: Lease): Promise<BlobInfo> {
    await lease?.add(digest)
    const target = this.paths.blob(digest)
    await mkdir(dirname(target), { recursive: true })
    await rename(tmp, target)
    await fsyncDir(dirname(target))
    return { digest, size }
  }

  async delete (digest: Digest): Promise<boolean> {
    try {
      await rm(this.paths.blob(parseDigest(digest)))
      return true
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false
      throw err
    }
  }

  async * list (): AsyncIterable<Digest> {
    for (const algorithm of ['sha256', 'sha512'] as const) {
      let names: string[]
      try {
        names = await readdir(`${this.paths.blobsDir}/${algorithm}`)
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue
        throw err
      }
      for (const name of names.sort()) {
        const digest = `${algorithm}:${name}`
        if (isDigest(digest)) yield digest
      }
    }
  }
}
