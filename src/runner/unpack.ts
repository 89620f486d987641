/**
 * Builds a rootfs from an image's layers, as `umoci unpack` does (docs/formats.md "OCI layers"): layers in order into
 * an empty directory (layer-stream.ts verifies and applies each one). The rootfs is built in a temp directory
 * beside the target and renamed into place at the end, so a failure (a digest mismatch, a limit of
 * unpack-limits.ts, a full disk) leaves no partial rootfs behind. By default the layers are applied in a worker
 * thread, off the caller's event loop.
 */
import { chmod, lchown, lutimes, mkdir, rename, rm } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { Store } from '../store/store.ts'
import { BlobNotFoundError } from '../store/errors.ts'
import type { Digest } from '../oci/digest.ts'
import { tempName } from '../util/fs.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { InvalidRunRequestError } from './errors.ts'
import type { ResolvedImage } from './image.ts'
import { applyLayers, isPrivileged, limitsFor, type ApplyOptions, type LayerJob } from './layer-stream.ts'
import { applyLayersInWorker } from './unpack-worker.ts'
import type { UnpackLimitsInit } from './unpack-limits.ts'
import { pathExists } from '../util/fs.ts'

export interface UnpackOptions {
  logger?: Logger
  signal?: AbortSignal
  /** Whether to lchown and mknod; default: running as root. */
  privileged?: boolean
  /** Apply the layers in a worker thread (default) or on the caller's thread. */
  worker?: boolean
  /** Bytes, free space and path depth the unpack may use (defaults: unpack-limits.ts). */
  limits?: UnpackLimitsInit
}

/** The layers of `image` as jobs on the store's blob files; throws BlobNotFoundError for a missing layer. */
export async function layerJobs (store: Store, image: ResolvedImage): Promise<LayerJob[]> {
  return await Promise.all(image.manifest.layers.map(async (descriptor, i) => {
    if (!(await store.blobs.has(descriptor.digest))) throw new BlobNotFoundError(descriptor.digest)
    return { descriptor, diffId: image.config.rootfs.diff_ids[i] as Digest, path: store.paths.blob(descriptor.digest) }
  }))
}

/**
 * Unpacks every layer of `image` into a new directory `target` (which must not exist). The root directory is
 * owned by 0:0 with mode 0755 and epoch times unless a layer says otherwise, as umoci does.
 */
export async function unpackRootfs (store: Store, image: ResolvedImage, target: string, options: UnpackOptions = {}): Promise<void> {
  if (await pathExists(target)) throw new InvalidRunRequestError(`cannot unpack into ${target}: it already exists`)
  const jobs = await layerJobs(store, image)
  await mkdir(dirname(target), { recursive: true })
  const apply: ApplyOptions = {
    logger: options.logger ?? silentLogger,
    privileged: options.privileged ?? isPrivileged(),
    limits: limitsFor(jobs, dirname(target), options.limits),
    ...(options.signal !== undefined ? { signal: options.signal } : {})
  }
  const temp = tempName(dirname(target), `.${basename(target)}.unpack`)
  await mkdir(temp, { mode: 0o755 })
  try {
    await chmod(temp, 0o755)
    if (apply.privileged) await lchown(temp, 0, 0)
    await lutimes(temp, new Date(0), new Date(0))
    options.signal?.throwIfAborted()
    if (options.worker === false) {
      await applyLayers(jobs, temp, apply)
    } else {
      await applyLayersInWorker(jobs, temp, apply)
    }
    await rename(temp, target)
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
}
