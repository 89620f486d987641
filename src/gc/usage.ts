/**
 * When each image was last used: one empty file per root digest under `<store>/.emergence/used/`, whose mtime is
 * the last pull, run or serve (docs/operations.md "Automatic GC"). A touch is one `utimes` (or one create): no
 * lock, no shared file to rewrite, so a busy node records a use as cheaply as the kernel records an atime, and
 * concurrent touches from the CLI and the daemon cannot lose each other. An image with no record counts as used
 * when its root blob was written.
 */
import { readdir, stat, utimes, writeFile, rm, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../oci/digest.ts'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'

function usageDir (store: Store): string {
  return join(store.paths.privateDir, 'used')
}

function usageFile (store: Store, digest: Digest): string {
  return join(usageDir(store), `${digestAlgorithm(digest)}-${digestHex(digest)}`)
}

/** Records that the images with these root digests were used now. Never throws for a missing store dir. */
export async function recordUse (store: Store, digests: Iterable<Digest>, now = new Date()): Promise<void> {
  for (const digest of digests) {
    const file = usageFile(store, digest)
    try {
      await utimes(file, now, now)
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
      await mkdir(usageDir(store), { recursive: true })
      await writeFile(file, '')
      await utimes(file, now, now)
    }
  }
}

/** Last use (ms since the epoch) of every digest that has a record. */
export async function readUsage (store: Store): Promise<Map<Digest, number>> {
  const used = new Map<Digest, number>()
  const names = await readdir(usageDir(store)).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) return [] as string[]
    throw err
  })
  for (const name of names) {
    const digest = name.replace('-', ':')
    if (!isDigest(digest)) continue
    const info = await stat(join(usageDir(store), name)).catch(() => undefined)
    if (info !== undefined) used.set(digest, info.mtimeMs)
  }
  return used
}

/** Removes the records of digests that are no longer roots of the store (evicted images, moved tags). */
export async function forgetUsage (store: Store, keep: ReadonlySet<string>): Promise<void> {
  for (const digest of (await readUsage(store)).keys()) {
    if (!keep.has(digest)) await rm(usageFile(store, digest), { force: true })
  }
}
