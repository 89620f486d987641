/**
 * The layer cache: every layer unpacked once, on its own, under `<data-dir>/runner/layers/<chain id hex>/`
 * (chain-id.ts), shared by every container of every image with the same layers below it.
 *
 * A layer is unpacked under a temp name (`.unpack.<hex>.<pid>.<random>`) and renamed when it verified, so a
 * crash leaves nothing half-visible. Unpacking takes the cache's lock (`.lock`, proper-lockfile: refreshed while
 * held, taken over once its holder died): a second run of the same image waits and then finds the layers done,
 * and any temp directory seen under the lock is the leftover of a holder that died. Runs whose layers are all
 * there take no lock at all. GC takes the same lock (gc.ts).
 */
import { chmod, lchown, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import lockfile from 'proper-lockfile'
import type { Digest } from '../../oci/digest.ts'
import type { Store } from '../../store/store.ts'
import { isErrno } from '../../util/errors.ts'
import { pathExists, tempName } from '../../util/fs.ts'
import { silentLogger } from '../../util/logger.ts'
import type { ResolvedImage } from '../image.ts'
import { applyLayerStack, isPrivileged, limitsFor, type ApplyOptions, type StackLayer } from '../layer-stream.ts'
import { layerJobs, type UnpackOptions } from '../unpack.ts'
import { applyStackInWorker } from '../unpack-worker.ts'
import { chainDirName, chainIds } from './chain-id.ts'

/** Prefix of the temp directories layers are unpacked into. */
export const UNPACK_PREFIX = '.unpack'
const LOCK_FILE = '.lock'

export interface CachedLayers {
  /** The chain id of every layer, the bottom layer first. */
  chainIds: Digest[]
  /** Their directories, in the same order. */
  dirs: string[]
  /** How many of them this call unpacked (0: all were there). */
  unpacked: number
}

export class LayerCache {
  readonly root: string

  constructor (root: string) {
    this.root = root
  }

  dir (chainId: Digest): string {
    return join(this.root, chainDirName(chainId))
  }

  /** Runs `fn` holding the cache's lock. */
  async withLock<T> (fn: () => Promise<T>): Promise<T> {
    await mkdir(this.root, { recursive: true })
    const target = join(this.root, LOCK_FILE)
    await writeFile(target, '', { flag: 'a' })
    const release = await lockfile.lock(target, { stale: 10_000, update: 2_000, retries: { retries: 400, factor: 1.2, minTimeout: 10, maxTimeout: 200 } })
    try {
      return await fn()
    } finally {
      await release()
    }
  }

  /** Removes temp directories left by holders of the lock that died; call with the lock held. */
  async removeLeftovers (): Promise<number> {
    let removed = 0
    for (const name of await readdir(this.root)) {
      if (!name.startsWith(`${UNPACK_PREFIX}.`)) continue
      await rm(join(this.root, name), { recursive: true, force: true })
      removed++
    }
    return removed
  }

  /**
   * Makes sure every layer of `image` is unpacked; returns their directories. Throws the unpacker's errors
   * (limits, digests, hostile entries): layers that verified before the failure stay, the failing one leaves
   * nothing.
   */
  async ensure (store: Store, image: ResolvedImage, options: UnpackOptions = {}): Promise<CachedLayers> {
    const jobs = await layerJobs(store, image)
    const chains = chainIds(jobs.map(job => job.diffId))
    const dirs = chains.map(chain => this.dir(chain))
    const present = async (): Promise<boolean[]> => await Promise.all(dirs.map(async dir => await pathExists(dir)))
    if ((await present()).every(Boolean)) return { chainIds: chains, dirs, unpacked: 0 }
    return await this.withLock(async () => {
      const leftovers = await this.removeLeftovers()
      if (leftovers > 0) options.logger?.info(`removed ${leftovers} half-unpacked layer(s) of an earlier run`)
      const have = await present()
      const stack: StackLayer[] = []
      jobs.forEach((job, i) => {
        if (have[i] === true) return
        const root = tempName(this.root, `${UNPACK_PREFIX}.${chainDirName(chains[i] as Digest).slice(0, 12)}`)
        stack.push({ job, root, target: dirs[i] as string, lowers: dirs.slice(0, i).reverse() })
      })
      await this.unpack(stack, options)
      return { chainIds: chains, dirs, unpacked: stack.length }
    })
  }

  private async unpack (stack: StackLayer[], options: UnpackOptions): Promise<void> {
    const apply: ApplyOptions = {
      logger: options.logger ?? silentLogger,
      privileged: options.privileged ?? isPrivileged(),
      limits: limitsFor(stack.map(layer => layer.job), this.root, options.limits),
      ...(options.signal !== undefined ? { signal: options.signal } : {})
    }
    for (const layer of stack) {
      await mkdir(layer.root, { mode: 0o755 })
      await chmod(layer.root, 0o755)
      if (apply.privileged) await lchown(layer.root, 0, 0)
    }
    try {
      if (options.worker === false) await applyLayerStack(stack, apply)
      else await applyStackInWorker(stack, apply)
    } finally {
      for (const layer of stack) {
        await rm(layer.root, { recursive: true, force: true }).catch((err: unknown) => { if (!isErrno(err, 'ENOENT')) throw err })
      }
    }
  }
}
