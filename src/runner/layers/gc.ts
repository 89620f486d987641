/**
 * GC of the layer cache: removes every unpacked layer that no container record and no image of the store uses.
 * `emergence gc` runs it after the store's GC, so an image removed from the store takes its unpacked layers
 * with it, while the layers of every stored image stay ready for the next container. Runs under the cache's
 * lock, so it never removes a layer while a run unpacks.
 */
import { lstat, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Store } from '../../store/store.ts'
import { EmergenceError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import { ContainerRecords, RunnerPaths } from '../containers.ts'
import { loadImage } from '../image.ts'
import { chainDirName, chainIds } from './chain-id.ts'
import { LayerCache } from './cache.ts'
import type { Digest } from '../../oci/digest.ts'

export interface LayerGcOptions {
  dataDir: string
  store: Store
  dryRun?: boolean
  logger?: Logger
}

export interface LayerGcResult {
  /** Chain ids (hex) of the layer directories removed (or that would be, with dryRun). */
  removed: string[]
  freedBytes: number
  kept: number
}

/** Bytes of the files under `path` (directories and links count nothing). */
async function treeBytes (path: string): Promise<number> {
  const info = await lstat(path)
  if (!info.isDirectory()) return info.isFile() ? info.size : 0
  let total = 0
  for (const name of await readdir(path)) total += await treeBytes(join(path, name))
  return total
}

/** The layer directory names every stored image (each ref and pin, on this host's platform) stands on. */
async function storedImageLayers (store: Store, logger: Logger): Promise<Set<string>> {
  const used = new Set<string>()
  const targets = [...(await store.refs.list()).map(entry => entry.descriptor), ...(await store.pins.list()).map(pin => pin.digest)]
  for (const target of targets) {
    try {
      const image = await loadImage(store, target)
      for (const chain of chainIds(image.config.rootfs.diff_ids as Digest[])) used.add(chainDirName(chain))
    } catch (err) {
      // Not a runnable image here (another platform, a pinned blob, missing blobs): it uses no cached layer.
      if (!(err instanceof EmergenceError)) throw err
      logger.debug(`layer gc: ${typeof target === 'string' ? target : target.digest} is not an image of this platform: ${err.message}`)
    }
  }
  return used
}

export async function gcLayers (options: LayerGcOptions): Promise<LayerGcResult> {
  const logger = options.logger ?? silentLogger
  const paths = new RunnerPaths(options.dataDir)
  const cache = new LayerCache(paths.layers)
  const result: LayerGcResult = { removed: [], freedBytes: 0, kept: 0 }
  const names = await readdir(cache.root).catch(() => [] as string[])
  if (names.length === 0) return result
  return await cache.withLock(async () => {
    const used = await storedImageLayers(options.store, logger)
    for (const record of await new ContainerRecords(paths.containers).list()) {
      for (const layer of record.layers ?? []) used.add(chainDirName(layer as Digest))
    }
    if (options.dryRun !== true) await cache.removeLeftovers()
    for (const name of await readdir(cache.root)) {
      if (name.startsWith('.')) continue
      if (used.has(name)) {
        result.kept++
        continue
      }
      const dir = join(cache.root, name)
      result.freedBytes += await treeBytes(dir)
      result.removed.push(name)
      if (options.dryRun !== true) await rm(dir, { recursive: true, force: true })
    }
    return result
  })
}
