/**
 * Garbage collection, umoci's way (specs §1): roots are every descriptor in index.json, every pin and every
 * leased (in-flight) digest; mark through index -> manifest -> config, layers, subject; sweep the rest.
 * Blobs younger than the grace period are kept too, which covers a writer that renamed a blob a moment ago.
 * Order matters: list blobs, then read leases, then read index and pins (see leases.ts).
 */
import { stat } from 'node:fs/promises'
import { walkImage, sniffMediaType } from '../oci/walk.ts'
import { MAX_JSON_BYTES, type Descriptor } from '../oci/types.ts'
import type { Digest } from '../oci/digest.ts'
import { isErrno } from '../util/errors.ts'
import { withLock } from './lock.ts'
import { leasedDigests } from './leases.ts'
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
async function pinRoots (store: Store): Promise<Descriptor[]> {
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
      if (options.dryRun !== true) await store.blobs.delete(digest)
      result.removed.push({ digest, size: info.size })
      result.freedBytes += info.size
    }
    await store.cleanTemp()
    return result
  })
}
