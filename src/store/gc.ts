/**
 * Garbage collection, umoci's way (docs/architecture.md "The store"): roots are every descriptor in index.json, every
 * pin and every leased (in-flight) digest; mark through index -> manifest -> config, layers, subject; sweep the rest.
 * Blobs younger than the grace period are kept too, which covers a writer that renamed a blob a moment ago.
 * Order matters: list blobs, then read leases, then read index and pins (see leases.ts).
 */
import { mkdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { walkImage, sniffMediaType } from '../oci/walk.ts'
import { MAX_JSON_BYTES, type Descriptor } from '../oci/types.ts'
import type { Digest } from '../oci/digest.ts'
import { isErrno } from '../util/errors.ts'
import { withLock } from './lock.ts'
import { leasedDigests, type Lease } from './leases.ts'
import type { Store } from './store.ts'

export interface GcOptions {
  /** Blobs modified less than this many milliseconds ago are kept. Default 60 s. */
  graceMs?: number
  dryRun?: boolean
}

export interface GcResult {
  kept: number
  removed: Array<{ digest: Digest, size: number }>
  freedBytes: number
}

export const DEFAULT_GC_GRACE_MS = 60_000

/** Descriptors for pinned digests; the media type is sniffed so that a pinned manifest keeps its children. */
export async function pinRoots (store: Store): Promise<Descriptor[]> {
  const roots: Descriptor[] = []
  for (const pin of await store.pins.list()) {
    const info = await store.blobs.stat(pin.digest)
    if (info === undefined) continue
    let mediaType = 'application/octet-stream'
    if (info.size <= MAX_JSON_BYTES) {
      try {
        mediaType = sniffMediaType(await store.blobs.readBytes(pin.digest)) ?? mediaType
      } catch {
        // Not JSON: an opaque pinned blob.
      }
    }
    roots.push({ mediaType, digest: pin.digest, size: info.size })
  }
  return roots
}

/** The set of digests reachable from index.json and the pins. Missing children are tolerated. */
export async function markReachable (store: Store): Promise<Set<Digest>> {
  const index = await store.refs.readIndex()
  const roots = [...index.manifests, ...await pinRoots(store)]
  return await walkImage(roots, async d => await store.blobs.readBytes(d.digest), { onMissing: () => 'skip' })
}

/**
 * Deletes blobs found unreferenced, without racing writers: a writer leases a digest *before* it looks for the
 * blob, so a writer that looked after the leases were read is caught by moving each victim aside first, reading
 * the leases again, and putting back what is leased now. Returns the digests deleted.
 */
export async function sweepBlobs (store: Store, victims: Digest[], exclude?: Lease): Promise<Digest[]> {
  if (victims.length === 0) return []
  const trash = join(store.paths.privateDir, 'trash')
  await mkdir(trash, { recursive: true })
  const moved: Digest[] = []
  for (const digest of victims) {
    try {
      await rename(store.paths.blob(digest), join(trash, digest.replace(':', '-')))
      moved.push(digest)
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err
    }
  }
  const leased = await leasedDigests(store.paths.leasesDir, exclude)
  const deleted: Digest[] = []
  for (const digest of moved) {
    const aside = join(trash, digest.replace(':', '-'))
    if (leased.has(digest)) {
      await rename(aside, store.paths.blob(digest))
      continue
    }
    await rm(aside, { force: true })
    deleted.push(digest)
  }
  await rmdir(trash).catch(() => {})
  return deleted
}

export async function collectGarbage (store: Store, options: GcOptions = {}): Promise<GcResult> {
  const grace = options.graceMs ?? DEFAULT_GC_GRACE_MS
  return await withLock(store.paths.locksDir, 'gc', async () => {
    const started = Date.now()
    const present: Digest[] = []
    for await (const digest of store.blobs.list()) present.push(digest)
    const leased = await leasedDigests(store.paths.leasesDir)
    const reachable = await markReachable(store)
    const result: GcResult = { kept: 0, removed: [], freedBytes: 0 }
    for (const digest of present) {
      if (reachable.has(digest) || leased.has(digest)) {
        result.kept++
        continue
      }
      let info
      try {
        info = await stat(store.paths.blob(digest))
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue
        throw err
      }
      if (started - info.mtimeMs < grace) {
        result.kept++
        continue
      }
      result.removed.push({ digest, size: info.size })
    }
    if (options.dryRun !== true) {
      const deleted = new Set(await sweepBlobs(store, result.removed.map(r => r.digest)))
      result.kept += result.removed.filter(r => !deleted.has(r.digest)).length
      result.removed = result.removed.filter(r => deleted.has(r.digest))
    }
    result.freedBytes = result.removed.reduce((n, r) => n + r.size, 0)
    await store.cleanTemp()
    return result
  })
}
