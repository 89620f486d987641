/**
 * Streams one layer blob into a rootfs (docs/formats.md "OCI layers"): blob file -> digest and size check ->
 * decompression by media type -> byte budget (unpack-limits.ts) -> diff_id check -> tar parser -> LayerApplier,
 * in bounded memory (a few MiB of stream buffers). Runs on whatever thread calls it: the worker of
 * unpack-worker.ts, or the caller's.
 */
import { createReadStream, lstatSync, lutimesSync, renameSync } from 'node:fs'
import { PassThrough, type Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createZstdDecompress } from 'node:zlib'
import { extract as createExtract } from 'tar-stream'
import { HashingCounter } from '../store/blob-store.ts'
import { digestAlgorithm, type Digest } from '../oci/digest.ts'
import { layerCompression } from '../oci/media-types.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Logger } from '../util/logger.ts'
import { DiffIdMismatchError, InvalidLayerError, LayerDigestMismatchError, UnsupportedLayerError } from './errors.ts'
import { LayerApplier } from './layer-apply.ts'
import { applyMeta } from './metadata.ts'
import { UnpackBudget, resolveLimits, type UnpackLimits, type UnpackLimitsInit } from './unpack-limits.ts'

/** One layer to apply: its descriptor, its diff_id, and the file holding its blob. */
export interface LayerJob {
  descriptor: Descriptor
  diffId: Digest
  path: string
}

export interface ApplyOptions {
  logger: Logger
  privileged: boolean
  signal?: AbortSignal
  /** The limits of this unpack; default: resolveLimits's defaults for the layers given. */
  limits?: UnpackLimits
  /** Unpack each layer on its own over these overlayfs lower directories (layer-apply.ts). */
  lowers?: readonly string[]
}

/** One layer of a stack unpacked on its own: into `root` (a temp name), renamed to `target` once verified. */
export interface StackLayer {
  job: LayerJob
  root: string
  target: string
  /** The unpacked layers below, the nearest first. */
  lowers: string[]
}

/** The limits of unpacking `jobs` into `dir`: `init`, with the defaults for their compressed size. */
export function limitsFor (jobs: readonly LayerJob[], dir: string, init: UnpackLimitsInit = {}): UnpackLimits {
  return resolveLimits(init, jobs.reduce((sum, job) => sum + job.descriptor.size, 0), dir)
}

/** The budget of one call: every layer of `jobs` counts against the same one. */
function budgetFor (jobs: readonly LayerJob[], root: string, options: ApplyOptions): UnpackBudget {
  return new UnpackBudget(root, options.limits ?? limitsFor(jobs, root))
}

/** Decompressor output chunk size: larger than zlib's 16 KiB default, so files are written in fewer calls. */
const CHUNK_SIZE = 256 * 1024

export function isPrivileged (): boolean {
  return process.getuid?.() === 0
}

/** The decompressing stream for a layer's media type (UnsupportedLayerError for an unknown one). */
export function decompressor (layer: Descriptor): Transform {
  switch (layerCompression(layer.mediaType)) {
    case 'none': return new PassThrough({ highWaterMark: CHUNK_SIZE })
    case 'gzip': return createGunzip({ chunkSize: CHUNK_SIZE })
    case 'zstd': return createZstdDecompress({ chunkSize: CHUNK_SIZE })
    default: throw new UnsupportedLayerError(layer.mediaType)
  }
}

/** Tar and decompression failures come as plain Errors from the stream libraries: name them. */
function asLayerError (err: unknown, layer: Descriptor): unknown {
  if (!(err instanceof Error) || err.name !== 'Error') return err
  return new InvalidLayerError(layer.digest, `cannot read the layer: ${err.message}`, err)
}

/**
 * Applies one layer to `root`, verifying its digest and size (the descriptor) and its diff_id (the sha256 of
 * the uncompressed tar, docs/formats.md "OCI layers") while streaming. The checks complete at the end of the stream,
 * so a mismatch is reported after the entries were applied: callers discard the whole rootfs.
 */
export async function applyLayer (job: LayerJob, root: string, options: ApplyOptions, budget = budgetFor([job], root, options)): Promise<void> {
  const { descriptor: layer, diffId } = job
  const source = createReadStream(job.path, { highWaterMark: 1024 * 1024 })
  const compressed = new HashingCounter(digestAlgorithm(layer.digest), layer.size, actual => new LayerDigestMismatchError(`${layer.digest} (${layer.size} bytes)`, `${actual} bytes or more`))
  const uncompressed = new HashingCounter(digestAlgorithm(diffId), undefined, () => new Error('unreachable'))
  const extract = createExtract()
  const abort = new AbortController()
  const onAbort = (): void => { abort.abort(options.signal?.reason) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const feeding = pipeline([source, compressed, decompressor(layer), budget.meter(), uncompressed, extract], { signal: abort.signal })
  // Keep a failure of the feeding side from being reported as unhandled while the entries are applied.
  feeding.catch(() => {})
  const applier = new LayerApplier(root, { ...options, budget })
  try {
    for await (const entry of extract) {
      await applier.apply(entry.header, entry as AsyncIterable<Uint8Array>)
    }
    await feeding
  } catch (err) {
    abort.abort(err)
    await feeding.catch(() => {})
    throw asLayerError(err, layer)
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  applier.finish()
  const actual = `${digestAlgorithm(layer.digest)}:${compressed.hash.digest('hex')}`
  if (actual !== layer.digest || compressed.bytes !== layer.size) {
    throw new LayerDigestMismatchError(`${layer.digest} (${layer.size} bytes)`, `${actual} (${compressed.bytes} bytes)`)
  }
  const diff = `${digestAlgorithm(diffId)}:${uncompressed.hash.digest('hex')}`
  if (diff !== diffId) throw new DiffIdMismatchError(layer.digest, diffId, diff)
}

/**
 * Applies `jobs` in order to `root` on this thread, all within one budget (UnpackLimitError past its bytes,
 * InsufficientSpaceError when the free space is below the reserve, checked before the first layer too).
 */
export async function applyLayers (jobs: LayerJob[], root: string, options: ApplyOptions): Promise<void> {
  const budget = budgetFor(jobs, root, options)
  budget.checkSpace()
  for (const job of jobs) {
    options.signal?.throwIfAborted()
    await applyLayer(job, root, options, budget)
  }
}

/**
 * Unpacks each layer of `stack` into its own directory, in order, all within one budget: the layer's root starts
 * with the metadata of the root below (so a root set by a lower layer carries up), is applied with overlayfs
 * whiteouts, and is renamed to its target as soon as it verified, so a finished layer is kept even if a later
 * one fails, and no layer is ever visible half-written.
 */
export async function applyLayerStack (stack: StackLayer[], options: ApplyOptions): Promise<void> {
  const first = stack[0]
  if (first === undefined) return
  const limits = options.limits ?? limitsFor(stack.map(layer => layer.job), first.root)
  let used = 0
  new UnpackBudget(first.root, limits).checkSpace()
  for (const layer of stack) {
    options.signal?.throwIfAborted()
    const below = layer.lowers[0]
    if (below !== undefined) {
      const info = lstatSync(below)
      applyMeta(layer.root, { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777, atime: info.atime, mtime: info.mtime }, { isSymlink: false, chown: options.privileged })
    } else {
      lutimesSync(layer.root, new Date(0), new Date(0))
    }
    const budget = new UnpackBudget(layer.root, limits, used)
    await applyLayer(layer.job, layer.root, { ...options, lowers: layer.lowers }, budget)
    used = budget.used
    renameSync(layer.root, layer.target)
  }
}
