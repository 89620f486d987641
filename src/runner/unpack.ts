/**
 * Builds a rootfs from an image's layers, as `umoci unpack` does (specs.md §2): layers in order into an empty
 * directory, each one streamed from the store through digest check -> decompression -> diff_id check -> tar
 * parser -> LayerApplier, in bounded memory. The rootfs is built in a temp directory beside the target and
 * renamed into place at the end, so a failure (a digest mismatch included) leaves no partial rootfs behind.
 */
import { lchown, lutimes, mkdir, chmod, rename, rm, lstat } from 'node:fs/promises'
import { PassThrough, type Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createZstdDecompress } from 'node:zlib'
import { basename, dirname } from 'node:path'
import { extract as createExtract } from 'tar-stream'
import type { Store } from '../store/store.ts'
import { HashingCounter } from '../store/blob-store.ts'
import { digestAlgorithm, type Digest } from '../oci/digest.ts'
import { layerCompression } from '../oci/media-types.ts'
import type { Descriptor } from '../oci/types.ts'
import { isErrno } from '../util/errors.ts'
import { tempName } from '../util/fs.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { DiffIdMismatchError, InvalidLayerError, InvalidRunRequestError, LayerDigestMismatchError, UnsupportedLayerError } from './errors.ts'
import { LayerApplier } from './layer-apply.ts'
import type { ResolvedImage } from './image.ts'

export interface UnpackOptions {
  logger?: Logger
  signal?: AbortSignal
  /** Whether to lchown and mknod; default: running as root. */
  privileged?: boolean
}

/** Decompressor output chunk size: larger than zlib's 16 KiB default, so files are written in fewer calls. */
const CHUNK_SIZE = 256 * 1024

export function isPrivileged (): boolean {
  return process.getuid?.() === 0
}

function decompressor (layer: Descriptor): Transform {
  switch (layerCompression(layer.mediaType)) {
    case 'none': return new PassThrough({ highWaterMark: CHUNK_SIZE })
    case 'gzip': return createGunzip({ chunkSize: CHUNK_SIZE })
    case 'zstd': return createZstdDecompress({ chunkSize: CHUNK_SIZE })
    default: throw new UnsupportedLayerError(layer.mediaType)
  }
}

/**
 * Applies one layer blob to `root`, verifying its digest and size (the descriptor) and its diff_id (the sha256
 * of the uncompressed tar, image-spec config.md) while streaming. The checks complete at the end of the
 * stream, so a mismatch is reported after the entries were applied: callers discard the whole rootfs.
 */
export async function applyLayer (store: Store, layer: Descriptor, diffId: Digest, root: string, options: UnpackOptions = {}): Promise<void> {
  const logger = options.logger ?? silentLogger
  const source = await store.blobs.read(layer.digest)
  const compressed = new HashingCounter(digestAlgorithm(layer.digest), layer.size, actual => new LayerDigestMismatchError(`${layer.digest} (${layer.size} bytes)`, `${actual} bytes or more`))
  const uncompressed = new HashingCounter(digestAlgorithm(diffId), undefined, () => new Error('unreachable'))
  const extract = createExtract()
  const abort = new AbortController()
  const onAbort = (): void => { abort.abort(options.signal?.reason) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const feeding = pipeline([source, compressed, decompressor(layer), uncompressed, extract], { signal: abort.signal })
  // Keep a failure of the feeding side from being reported as unhandled while the entries are applied.
  feeding.catch(() => {})
  const applier = new LayerApplier(root, { logger, privileged: options.privileged ?? isPrivileged() })
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
  await applier.finish()
  const actual = `${digestAlgorithm(layer.digest)}:${compressed.hash.digest('hex')}`
  if (actual !== layer.digest || compressed.bytes !== layer.size) {
    throw new LayerDigestMismatchError(`${layer.digest} (${layer.size} bytes)`, `${actual} (${compressed.bytes} bytes)`)
  }
  const diff = `${digestAlgorithm(diffId)}:${uncompressed.hash.digest('hex')}`
  if (diff !== diffId) throw new DiffIdMismatchError(layer.digest, diffId, diff)
}

/** Tar and decompression failures come as plain Errors from the stream libraries: name them. */
function asLayerError (err: unknown, layer: Descriptor): unknown {
  if (!(err instanceof Error) || err.name !== 'Error') return err
  return new InvalidLayerError(layer.digest, `cannot read the layer: ${err.message}`, err)
}

async function exists (path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false
    throw err
  }
}

/**
 * Unpacks every layer of `image` into a new directory `target` (which must not exist). The root directory is
 * owned by 0:0 with mode 0755 and epoch times unless a layer says otherwise, as umoci does.
 */
export async function unpackRootfs (store: Store, image: ResolvedImage, target: string, options: UnpackOptions = {}): Promise<void> {
  if (await exists(target)) throw new InvalidRunRequestError(`cannot unpack into ${target}: it already exists`)
  const privileged = options.privileged ?? isPrivileged()
  await mkdir(dirname(target), { recursive: true })
  const temp = tempName(dirname(target), `.${basename(target)}.unpack`)
  await mkdir(temp, { mode: 0o755 })
  try {
    await chmod(temp, 0o755)
    if (privileged) await lchown(temp, 0, 0)
    await lutimes(temp, new Date(0), new Date(0))
    const { layers } = image.manifest
    for (let i = 0; i < layers.length; i++) {
      options.signal?.throwIfAborted()
      const layer = layers[i] as Descriptor
      const diffId = image.config.rootfs.diff_ids[i] as Digest
      await applyLayer(store, layer, diffId, temp, { ...options, privileged })
    }
    await rename(temp, target)
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
}
