/**
 * An image's rootfs for one container: by default an overlayfs view on the layer cache (layers/), so the
 * layers are unpacked once per host and a container costs a mount; a full copy (unpack.ts) when overlayfs
 * cannot be used here (not root, no overlayfs, no setfattr, too many layers), said in a warning, or when asked.
 */
import { join } from 'node:path'
import type { Store } from '../store/store.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import type { RunnerPaths } from './containers.ts'
import { OverlayMountError } from './errors.ts'
import type { ResolvedImage } from './image.ts'
import { LayerCache } from './layers/cache.ts'
import { mountOverlay, overlayOptions, overlayUnavailable, unmountIfMounted } from './layers/overlay.ts'
import { unpackRootfs } from './unpack.ts'
import type { UnpackLimitsInit } from './unpack-limits.ts'

/** `auto` (default): overlay when it works here, else a copy; `overlay`: overlay or fail; `copy`: always a copy. */
export type RootfsMode = 'auto' | 'overlay' | 'copy'

export interface RootfsOptions {
  mode?: RootfsMode
  logger?: Logger
  signal?: AbortSignal
  limits?: UnpackLimitsInit
}

export interface PreparedRootfs {
  kind: 'overlay' | 'copy'
  /** The chain ids of the layers an overlay stands on. */
  layers?: string[]
  /** Layers unpacked for this container (0: all were cached); every layer for a copy. */
  unpacked: number
}

/** Builds `<bundle>/rootfs` for `image`. Throws the unpacker's errors and OverlayMountError. */
export async function prepareImageRootfs (store: Store, image: ResolvedImage, bundle: string, paths: RunnerPaths, options: RootfsOptions = {}): Promise<PreparedRootfs> {
  const logger = options.logger ?? silentLogger
  const rootfs = join(bundle, 'rootfs')
  const unpackOptions = {
    logger,
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {})
  }
  const mode = options.mode ?? 'auto'
  const why = mode === 'copy' ? 'asked for' : await whyNoOverlay(image, paths, bundle)
  if (why !== undefined) {
    if (mode === 'overlay') throw new OverlayMountError(rootfs, why)
    if (mode === 'auto') logger.warn(`overlayfs cannot be used (${why}): copying the whole rootfs for this container`)
    await unpackRootfs(store, image, rootfs, unpackOptions)
    return { kind: 'copy', unpacked: image.manifest.layers.length }
  }
  const cache = new LayerCache(paths.layers)
  const cached = await cache.ensure(store, image, unpackOptions)
  await mountOverlay({ target: rootfs, layers: cached.dirs, upper: join(bundle, 'upper'), work: join(bundle, 'work') }, cache.root)
  return { kind: 'overlay', layers: cached.chainIds, unpacked: cached.unpacked }
}

async function whyNoOverlay (image: ResolvedImage, paths: RunnerPaths, bundle: string): Promise<string | undefined> {
  const why = await overlayUnavailable(paths.layers)
  if (why !== undefined) return why
  try {
    // The layer names are hex digests of one length: any image's options are as long as its layer count makes them.
    overlayOptions({ target: '', layers: image.manifest.layers.map(() => 'x'.repeat(64)), upper: join(bundle, 'upper'), work: join(bundle, 'work') })
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** Unmounts the bundle's rootfs when it is an overlay view (before the bundle is deleted). */
export async function releaseRootfs (bundle: string): Promise<void> {
  await unmountIfMounted(join(bundle, 'rootfs'))
}
