/**
 * What one unpack may cost: bytes written, free space left on the filesystem, and how long and deep an entry's
 * path may be. A layer comes from peers we do not trust, and its digest only proves that it is the layer the
 * manifest named, not that it is harmless: a few MB of gzip can expand to gigabytes (a decompression bomb), and a
 * tar of thousands of nested directories costs a path walk per entry. So the unpacker counts every uncompressed
 * byte against a per-image limit, checks the free space before it starts and every few MiB while it writes, and
 * refuses an entry's path before it creates anything for it.
 */
import { statfsSync } from 'node:fs'
import { Transform, type TransformCallback } from 'node:stream'
import { EntryPathError, InsufficientSpaceError, UnpackLimitError } from './errors.ts'

/** Linux's PATH_MAX (limits.h): the longest path a system call takes, its terminating NUL included. */
export const PATH_MAX = 4096
/** Directory levels an entry's path may have. Real images stay far below; each level is one more step per call. */
export const DEFAULT_MAX_DEPTH = 256
/** The default byte limit is this many times the compressed size of the image's layers... */
export const DEFAULT_EXPANSION = 32
/** ...but never less than this, so that small images of well-compressing files still unpack. */
export const DEFAULT_MIN_UNPACKED_BYTES = 512 * 1024 * 1024
/** The default reserve is this share of the filesystem's size... */
export const DEFAULT_RESERVE_FRACTION = 0.05
/** ...and at most this much. */
export const DEFAULT_MAX_RESERVE = 1024 ** 3
/** Free space is checked again after every this many uncompressed bytes (statfs costs microseconds). */
export const SPACE_CHECK_INTERVAL = 8 * 1024 * 1024

export interface UnpackLimitsInit {
  /**
   * Most bytes an image's layers may unpack to, counted as uncompressed tar bytes (headers included).
   * @default the larger of 512 MiB and 32 times the compressed size of the image's layers
   */
  maxUnpackedBytes?: number
  /** Free bytes the filesystem keeps: the unpack stops rather than go below. @default 5% of the filesystem, at most 1 GiB */
  minFreeBytes?: number
  /** Most directory levels of an entry's path. @default 256 */
  maxDepth?: number
}

/** Limits resolved for one unpack: plain data, so they cross to the unpack worker thread. */
export interface UnpackLimits {
  maxUnpackedBytes: number
  minFreeBytes: number
  maxDepth: number
}

function freeBytes (path: string): number {
  const stats = statfsSync(path)
  return stats.bavail * stats.bsize
}

/** Fills in the defaults for an image of `compressedBytes` unpacked into `dir` (which must exist). */
export function resolveLimits (init: UnpackLimitsInit, compressedBytes: number, dir: string): UnpackLimits {
  const reserve = (): number => {
    const stats = statfsSync(dir)
    return Math.min(DEFAULT_MAX_RESERVE, Math.floor(stats.blocks * stats.bsize * DEFAULT_RESERVE_FRACTION))
  }
  return {
    maxUnpackedBytes: init.maxUnpackedBytes ?? Math.max(DEFAULT_MIN_UNPACKED_BYTES, DEFAULT_EXPANSION * compressedBytes),
    minFreeBytes: init.minFreeBytes ?? reserve(),
    maxDepth: init.maxDepth ?? DEFAULT_MAX_DEPTH
  }
}

/** The bytes and free space one unpack (all layers of an image) may still use. */
export class UnpackBudget {
  readonly root: string
  readonly limits: UnpackLimits
  #used = 0
  #sinceCheck = 0

  /** `used`: bytes already spent by earlier parts of the same unpack (the layers of a stack, one budget each). */
  constructor (root: string, limits: UnpackLimits, used = 0) {
    this.root = root
    this.limits = limits
    this.#used = used
  }

  get used (): number {
    return this.#used
  }

  /** Throws InsufficientSpaceError when the filesystem of the root has less free space than the reserve. */
  checkSpace (): void {
    const free = freeBytes(this.root)
    if (free < this.limits.minFreeBytes) throw new InsufficientSpaceError(this.root, free, this.limits.minFreeBytes)
  }

  /** The error for a write that failed with ENOSPC or EDQUOT. */
  noSpace (cause: unknown): InsufficientSpaceError {
    return new InsufficientSpaceError(this.root, freeBytes(this.root), this.limits.minFreeBytes, cause)
  }

  /** Counts `bytes` more of uncompressed layer; throws UnpackLimitError past the limit. */
  consume (bytes: number): void {
    this.#used += bytes
    if (this.#used > this.limits.maxUnpackedBytes) throw new UnpackLimitError(this.limits.maxUnpackedBytes)
    this.#sinceCheck += bytes
    if (this.#sinceCheck >= SPACE_CHECK_INTERVAL) {
      this.#sinceCheck = 0
      this.checkSpace()
    }
  }

  /** A pass-through stream that counts what flows through it against this budget (fails the pipeline past it). */
  meter (): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void => {
        try {
          this.consume(chunk.byteLength)
          callback(null, chunk)
        } catch (err) {
          callback(err as Error)
        }
      }
    })
  }

  /**
   * Refuses `rel` (a cleaned path relative to the root) when it is deeper than the depth limit or when its host
   * path, the root's included, reaches PATH_MAX: checked before anything is created for the entry `name`.
   */
  checkPath (rel: string, name: string): void {
    checkPath(this.root, rel, name, this.limits.maxDepth)
  }
}

/** See UnpackBudget.checkPath. */
export function checkPath (root: string, rel: string, name: string, maxDepth: number): void {
  if (rel === '') return
  let depth = 1
  for (let at = rel.indexOf('/'); at !== -1; at = rel.indexOf('/', at + 1)) depth++
  if (depth > maxDepth) throw new EntryPathError(name, `it is ${depth} directories deep, more than the limit of ${maxDepth}`)
  const bytes = Buffer.byteLength(root) + 1 + Buffer.byteLength(rel)
  if (bytes >= PATH_MAX) throw new EntryPathError(name, `its path on the host would be ${bytes} bytes long, past PATH_MAX (${PATH_MAX})`)
}
