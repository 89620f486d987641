/**
 * One pass of the automatic GC (docs/operations.md "Automatic GC"). Nothing happens unless the store's
 * filesystem is fuller than the high watermark or the store is larger than its maximum size. Then, in order:
 *
 * 1. what nothing references goes first, as `emergence gc` removes it (blobs, then unpacked layers), since that
 *    costs nothing to lose;
 * 2. if that was not enough to get back to the low watermark (or to the store's target size), the least recently
 *    used unprotected images lose their refs (policy.ts), and their blobs and layers are swept the same way.
 *
 * Every removal goes through the store's GC (leases, grace period, the move-aside sweep) and the runner's layer
 * GC, so a pass is as safe against concurrent writers as `emergence gc`.
 */
import { statfs } from 'node:fs/promises'
import type { Digest } from '../oci/digest.ts'
import { gcLayers } from '../runner/layers/gc.ts'
import { DEFAULT_GC_GRACE_MS } from '../store/gc.ts'
import type { Store } from '../store/store.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { blobSizes, takeInventory } from './inventory.ts'
import { selectEvictions } from './policy.ts'
import { gatherProtection, type ProtectedDigests } from './protect.ts'
import { forgetUsage } from './usage.ts'

export interface GcPolicy {
  /** Fraction of the filesystem (0-1] above which a pass frees space. */
  highWatermark: number
  /** Fraction of the filesystem a pass frees down to. */
  lowWatermark: number
  /** Bytes of blobs above which a pass frees space, down to `maxStoreSize * lowWatermark / highWatermark`. */
  maxStoreSize: number | null
}

/** The filesystem as df(1) counts it: `used / size` is its use%, blocks reserved for root left out. */
export interface DiskUsage {
  size: number
  used: number
}

export interface GcMeasure extends DiskUsage {
  /** Bytes of the store's blobs. */
  storeBytes: number
}

export interface GcPassOptions {
  dataDir: string
  store: Store
  policy: GcPolicy
  /** Digests the cluster needs here (the desired set); never evicted. */
  protectedDigests?: ProtectedDigests
  /** Blobs written less than this long ago are kept (the store's GC grace period). */
  graceMs?: number
  /** Told of every blob removed, so that the node stops advertising it. */
  onRemoved?: (digests: Digest[]) => Promise<void>
  logger?: Logger
}

export interface GcPassReport {
  /** Why the pass freed space (`disk 93% > 90%`, `store 51.0 GiB > 50.0 GiB`); empty: it had nothing to do. */
  reasons: string[]
  before: GcMeasure
  after: GcMeasure
  /** The images whose refs were removed, least recently used first. */
  evicted: Array<{ digest: string, refs: string[], lastUsed: string }>
  removedBlobs: number
  /** Bytes of blobs and unpacked layers removed. */
  freedBytes: number
  durationMs: number
}

export async function diskUsage (path: string): Promise<DiskUsage> {
  const fs = await statfs(path)
  const used = (fs.blocks - fs.bfree) * fs.bsize
  return { used, size: used + fs.bavail * fs.bsize }
}

async function measure (store: Store): Promise<GcMeasure> {
  const [disk, { storeBytes }] = await Promise.all([diskUsage(store.root), blobSizes(store)])
  return { ...disk, storeBytes }
}

const percent = (fraction: number): string => `${Math.round(fraction * 1000) / 10}%`

function triggers (m: GcMeasure, policy: GcPolicy): { disk: boolean, store: boolean, reasons: string[] } {
  const disk = m.size > 0 && m.used / m.size > policy.highWatermark
  const store = policy.maxStoreSize !== null && m.storeBytes > policy.maxStoreSize
  return {
    disk,
    store,
    reasons: [
      ...(disk ? [`disk ${percent(m.used / m.size)} > ${percent(policy.highWatermark)}`] : []),
      ...(store ? [`store ${m.storeBytes} B > ${policy.maxStoreSize ?? 0} B`] : [])
    ]
  }
}

/** Bytes still to free for the targets whose trigger fired. */
function stillToFree (m: GcMeasure, policy: GcPolicy, fired: { disk: boolean, store: boolean }): number {
  const disk = fired.disk ? m.used - policy.lowWatermark * m.size : 0
  const store = fired.store && policy.maxStoreSize !== null
    ? m.storeBytes - Math.floor(policy.maxStoreSize * policy.lowWatermark / policy.highWatermark)
    : 0
  return Math.max(0, Math.ceil(disk), store)
}

/** The store's GC, then the layer GC; returns blobs removed and bytes freed. */
async function sweep (options: GcPassOptions): Promise<{ blobs: number, bytes: number }> {
  const { store } = options
  const result = await store.gc({ graceMs: options.graceMs ?? DEFAULT_GC_GRACE_MS })
  const removed = result.removed.map(r => r.digest)
  if (removed.length > 0) await options.onRemoved?.(removed)
  const layers = await gcLayers({ dataDir: options.dataDir, store, ...(options.logger !== undefined ? { logger: options.logger } : {}) })
  return { blobs: removed.length, bytes: result.freedBytes + layers.freedBytes }
}

export async function runGcPass (options: GcPassOptions): Promise<GcPassReport> {
  const started = performance.now()
  const { store, policy } = options
  const logger = options.logger ?? silentLogger
  const before = await measure(store)
  const fired = triggers(before, policy)
  const report: GcPassReport = { reasons: fired.reasons, before, after: before, evicted: [], removedBlobs: 0, freedBytes: 0, durationMs: 0 }
  if (fired.reasons.length > 0) {
    logger.info(`gc: ${fired.reasons.join(', ')}: freeing space`)
    const garbage = await sweep(options)
    report.after = await measure(store)
    const needed = stillToFree(report.after, policy, fired)
    let evicted = { blobs: 0, bytes: 0 }
    if (needed > 0) {
      await evict(options, needed, report)
      evicted = await sweep(options)
      report.after = await measure(store)
    }
    report.removedBlobs = garbage.blobs + evicted.blobs
    report.freedBytes = garbage.bytes + evicted.bytes
    logger.info(`gc: evicted ${report.evicted.length} images, removed ${report.removedBlobs} blobs, freed ${report.freedBytes} B`)
    if (stillToFree(report.after, policy, fired) > 0) {
      logger.warn(`gc: still above the target after removing all it may (disk ${percent(report.after.used / Math.max(1, report.after.size))}, store ${report.after.storeBytes} B): what is left is pinned, in use, or not the store's`)
    }
  }
  report.durationMs = performance.now() - started
  return report
}

/** Removes the refs of the images the policy picks to free `needed` bytes. */
async function evict (options: GcPassOptions, needed: number, report: GcPassReport): Promise<void> {
  const { store } = options
  const inventory = await takeInventory(store)
  const protection = await gatherProtection(options.dataDir, store, options.protectedDigests)
  for (const candidate of inventory.candidates) {
    const documents = inventory.documents.get(candidate.digest) ?? new Set()
    candidate.protected = candidate.refs.some(ref => protection.refs.has(ref)) ||
      [...documents, candidate.digest].some(digest => protection.digests.has(digest))
  }
  const selection = selectEvictions({ candidates: inventory.candidates, sizes: inventory.sizes, retained: inventory.pinned, needed })
  const kept = new Set(inventory.candidates.map(c => c.digest))
  await store.refs.removeMany(selection.evict.flatMap(c => c.refs.map(ref => ({ ref, expected: c.digest }))))
  for (const candidate of selection.evict) {
    kept.delete(candidate.digest)
    report.evicted.push({ digest: candidate.digest, refs: candidate.refs, lastUsed: new Date(candidate.lastUsed).toISOString() })
  }
  await forgetUsage(store, kept)
}
