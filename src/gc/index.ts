/**
 * Automatic GC (docs/operations.md "Automatic GC", docs/configuration.md): keeps an unattended node's disk from
 * filling. When the store's filesystem passes the high watermark, or the store its maximum size, a pass removes
 * what nothing references and then the least recently used unprotected images, until the low watermark.
 *
 * - `recordUse` marks images as used (pull, run, a peer resolving its tag, the mirror serving it): one mtime per
 *   root digest (usage.ts).
 * - `selectEvictions` is the policy: LRU, never a protected image, no more than needed (policy.ts).
 * - `gatherProtection` lists what containers, automata and the daemon's `protectedDigests` hook need.
 * - `runGcPass` measures, sweeps garbage, evicts and sweeps again; `AutoGc` runs it on an interval.
 *
 * @example
 * ```ts
 * const gc = new AutoGc({ dataDir, store, policy: { highWatermark: 0.9, lowWatermark: 0.8, maxStoreSize: null }, intervalMs: 300_000 })
 * gc.start()
 * const report = await gc.runNow()
 * ```
 *
 * Errors (matched by `name`): InvalidGcSettingError, and the store's.
 */
export * from './errors.ts'
export * from './settings.ts'
export { recordUse, readUsage } from './usage.ts'
export { selectEvictions, type GcCandidate, type Selection, type SelectionInput } from './policy.ts'
export { gatherProtection, type ProtectedDigests, type Protection } from './protect.ts'
export { runGcPass, diskUsage, type GcPolicy, type GcPassOptions, type GcPassReport, type GcMeasure, type DiskUsage } from './pass.ts'
export { AutoGc, type AutoGcInit } from './service.ts'
