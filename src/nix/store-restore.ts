/**
 * Importing NARs into a local Nix store without Nix hashing them again (docs/nix.md "Importing"). Each NAR is
 * restored by `restoreNar` (hostile archives refused; written beside the store path and renamed into place only
 * whole) with Nix's canonical metadata, then the paths are registered in one `nix-store --load-db` with the
 * narHash, narSize, references and deriver we give: Nix reads none of their bytes. A path is registered only
 * after its files are complete at their name, on disk, and after every path it refers to, so a crash at any point
 * (power cut included) leaves at worst files of an invalid path, which the next restore of that path replaces
 * (as Nix's own add does).
 *
 * `--load-db` rather than `--register-validity --hash-given`: the latter canonicalises the logical path
 * (`/nix/store/...`, not the chroot store's real directory), which fails for a chroot store (`--store DIR`) in
 * Nix 2.8; `--load-db` takes the same input and leaves the files be, so the restore sets the metadata itself.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fsyncDir } from '../util/fs.ts'
import { Semaphore } from '../util/semaphore.ts'
import type { ExportItem } from './export-format.ts'
import { verifyNarStream } from './nar-hash.ts'
import { restoreNar } from './nar-restore.ts'
import type { PathInfo } from './path-info.ts'
import { parseStorePath } from './store-path.ts'
import type { StorePath } from './store-path.ts'

/** How paths enter the store: restored and registered by us, or streamed to `nix-store --import`. */
export type ImportMethod = 'restore' | 'import'

/** NARs restored at once (their pulls run ahead; a restore is a few file writes). */
export const RESTORE_CONCURRENCY = 4

export interface StoreRestoreTarget {
  /** Where the store paths' files are (`/nix/store`, or `DIR/nix/store` for a chroot store). */
  realStoreDir: string
  /** Registers paths given in `nix-store --load-db` format. */
  register: (registration: string, signal?: AbortSignal) => Promise<void>
}

/**
 * The import method a store allows. Restoring writes the store's files and database directly, so it needs the
 * rights Nix itself has: root, and for the system store no daemon owning it (`NIX_REMOTE` unset or `local`; a
 * daemon's store is written through the daemon, so `--import` it is).
 */
export function defaultImportMethod (storeRoot: string | undefined, env: NodeJS.ProcessEnv): ImportMethod {
  if (process.getuid?.() !== 0) return 'import'
  const remote = env.NIX_REMOTE
  return storeRoot !== undefined || remote === undefined || remote === '' || remote === 'local' ? 'restore' : 'import'
}

/** One registration per path: path, narHash, narSize, deriver (or an empty line), references (count, then each). */
export function validityRegistration (infos: readonly PathInfo[]): string {
  return infos.map(info => [
    info.path, info.narHash, String(info.narSize), info.deriver ?? '', String(info.references.length), ...[...info.references].sort()
  ].join('\n') + '\n').join('')
}

/**
 * Of the restored `done` paths, those whose references are all valid already or restored too, in `ordered`'s
 * order (dependencies first): whole closures, safe to register even when another path of the batch failed.
 */
function wholeClosures (ordered: readonly ExportItem[], done: ReadonlySet<StorePath>): PathInfo[] {
  const inBatch = new Set(ordered.map(item => item.info.path))
  const kept = new Set<StorePath>()
  const out: PathInfo[] = []
  for (const { info } of ordered) {
    if (!done.has(info.path)) continue
    if (!info.references.every(ref => ref === info.path || !inBatch.has(ref) || kept.has(ref))) continue
    kept.add(info.path)
    out.push(info)
  }
  return out
}

async function restoreOne (realStoreDir: string, item: ExportItem, signal: AbortSignal | undefined): Promise<void> {
  const target = join(realStoreDir, parseStorePath(item.info.path).baseName)
  // The caller holds this store's restore lock and found the path invalid: files there are what a restore or a
  // Nix add cut short before registration left behind. Nix replaces them the same way.
  await rm(target, { recursive: true, force: true })
  const nar = item.verified === true ? item.nar() : verifyNarStream(item.nar(), item.info)
  await restoreNar(nar, target, { canonical: true, durable: true, maxSize: item.info.narSize, ...(signal !== undefined ? { signal } : {}) })
}

/**
 * Restores `ordered` (dependencies first, none of them valid) and registers them. On a failure the paths restored
 * so far that form whole closures are registered, the others removed, and the first error is thrown.
 */
export async function restorePaths (target: StoreRestoreTarget, ordered: readonly ExportItem[], signal?: AbortSignal): Promise<StorePath[]> {
  const restored = new Set<StorePath>()
  const limiter = new Semaphore(RESTORE_CONCURRENCY)
  let failure: { error: unknown } | undefined
  await Promise.all(ordered.map(async item => {
    await limiter.run(async () => {
      if (failure !== undefined) return
      await restoreOne(target.realStoreDir, item, signal)
      restored.add(item.info.path)
    }, signal).catch((error: unknown) => { failure ??= { error } })
  }))
  const whole = wholeClosures(ordered, restored)
  const registered = new Set(whole.map(info => info.path))
  for (const path of restored) {
    if (!registered.has(path)) await rm(join(target.realStoreDir, parseStorePath(path).baseName), { recursive: true, force: true })
  }
  if (whole.length > 0) {
    // Every file's data was synced as it was written; the store directory's new names go to disk before the
    // database names them.
    await fsyncDir(target.realStoreDir)
    await target.register(validityRegistration(whole), failure === undefined ? signal : undefined)
  }
  if (failure !== undefined) throw failure.error
  return whole.map(info => info.path)
}

const restoreLocks = new Map<string, Semaphore>()

/**
 * One restore at a time per store directory in this process: a restore replaces the files of paths it found
 * invalid, which must not be those of a path another restore is about to register.
 */
export function restoreLock (realStoreDir: string): Semaphore {
  let lock = restoreLocks.get(realStoreDir)
  if (lock === undefined) {
    lock = new Semaphore(1)
    restoreLocks.set(realStoreDir, lock)
  }
  return lock
}
