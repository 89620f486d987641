/**
 * Pulling a closure from peers into the local Nix store (docs/nix.md "Pulling"):
 * 1. find the records (record-fetch.ts) and drop the paths the Nix store already holds;
 * 2. with trusted keys, refuse the pull unless every missing path's record is signed by one, before any NAR moves;
 * 3. pull the missing NARs, a few at a time, dependencies first, from every peer that has them (each NAR is a blob
 *    whose digest is its narHash, so the exchange's digest check is the narHash check);
 * 4. hand them to LocalNix.importPaths as they complete (restored and registered, or `nix-store --import`); a
 *    NAR this pull verified is not hashed again;
 * 5. set the refs of the records whose NARs are now held, so this node serves them onward.
 * A NAR that cannot be fetched stops the import before that path: the paths imported so far are whole closures
 * of their own (dependencies go first), so the Nix store stays consistent.
 */
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Lease } from '../store/leases.ts'
import { readThrough } from '../util/fs.ts'
import { Semaphore } from '../util/semaphore.ts'
import { mapLimit } from '../util/map-limit.ts'
import type { ExportItem } from './export-format.ts'
import { verifyNarStream } from './nar-hash.ts'
import type { NetworkPullResult } from './network.ts'
import { EMPTY_CONFIG, buildClosureRecord, closureRef, infoRef, sortRecords, type PathRecord } from './path-record.ts'
import { NixPullTracker, type NixPullProgress } from './pull-progress.ts'
import { discoverClosure, type Discovery, type FetchContext } from './record-fetch.ts'
import { ensureEmptyConfig, putSmallBlob } from './record-store.ts'
import { assertSignedBy, type PublicKey } from './signing.ts'
import { parseStorePath, type StorePath } from './store-path.ts'

export interface PullClosureOptions {
  signal?: AbortSignal
  onProgress?: (progress: NixPullProgress) => void
  /** NARs pulled at once. @default 16 */
  concurrency?: number
  /** Keys accepted besides the node's configured trusted keys (a non-empty union requires signatures). */
  trustedKeys?: readonly PublicKey[]
}

export interface NixPullResult {
  root: StorePath
  /** How the records were found: one closure record, or path records level by level. */
  via: 'closure' | 'references' | 'local'
  /** Paths imported into the Nix store, dependencies first. */
  imported: StorePath[]
  /** Paths of the closure the Nix store held already (as far as the records showed). */
  alreadyValid: number
  fetchedBytes: number
  fromPeers: Record<string, number>
  progress: NixPullProgress
}

type Done = Omit<NixPullResult, 'root' | 'progress'>

/** Bytes read from the blob store and handed to the import at a time. */
const IMPORT_CHUNK = 1024 * 1024

/** What every NAR pull of one closure pull shares. */
interface PullRun {
  lease: Lease
  signal: AbortSignal
}

/** Starts the NAR pulls, `limit` at a time, in import order; each promise settles when its blob is held. */
function startPulls (ctx: FetchContext, records: readonly PathRecord[], discovery: Discovery, run: PullRun,
  limit: number, tracker: NixPullTracker): Map<StorePath, Promise<NetworkPullResult>> {
  const { lease, signal } = run
  const limiter = new Semaphore(Math.max(1, Math.floor(limit)))
  const pulls = new Map<StorePath, Promise<NetworkPullResult>>()
  for (const record of records) {
    const pull = limiter.run(async () => {
      signal.throwIfAborted()
      const result = await ctx.network.pullBlob(record.nar, {
        signal,
        lease,
        providers: discovery.providers,
        direct: discovery.closure !== undefined,
        onStart: (_size, resumed) => { tracker.bytes(resumed) },
        onPiece: (peer, bytes) => { tracker.bytes(bytes, peer) }
      })
      if (result.alreadyPresent) tracker.bytes(result.size)
      return result
    })
    pull.catch(() => {}) // awaited by the import; a failure here must not surface as an unhandled rejection
    pulls.set(record.info.path, pull)
  }
  return pulls
}

/**
 * The NAR of `record` once its pull is done, read from the blob store. A NAR this pull fetched was verified
 * against narHash a moment ago (its blob digest is the narHash, and the store wrote it only after the check), so
 * it is not hashed again; one the store held before the pull is checked on its way to Nix.
 */
async function * narOnceHeld (ctx: FetchContext, record: PathRecord, pull: Promise<NetworkPullResult> | undefined, buffers: Buffer[],
  tracker: NixPullTracker): AsyncGenerator<Uint8Array> {
  const result = await pull
  // A few reused buffers for all the NARs: the import writes each chunk out (or copies it) before it asks for the
  // next (process.ts, nar-restore.ts), and restores run a few at once, each with a buffer of its own.
  const buffer = buffers.pop() ?? Buffer.allocUnsafe(IMPORT_CHUNK)
  try {
    const read = readThrough(ctx.store.paths.blob(record.nar.digest), buffer)
    if (result === undefined || result.alreadyPresent) yield * verifyNarStream(read, record.info)
    else yield * read
  } finally {
    buffers.push(buffer)
  }
  tracker.pathDone()
}

/** Refs for every record whose NAR this store holds, plus the closure record when it holds all of them. */
async function keepRecords (ctx: FetchContext, root: StorePath, discovery: Discovery, lease: Lease): Promise<Digest[]> {
  await ensureEmptyConfig(ctx.store, lease)
  const entries: Array<{ ref: string, descriptor: Descriptor }> = []
  const digests: Digest[] = [EMPTY_CONFIG.digest]
  const kept = await mapLimit(discovery.records, 8, async record => {
    if (!await ctx.store.blobs.has(record.nar.digest)) return false
    await putSmallBlob(ctx.store, record.bytes, lease)
    return true
  })
  discovery.records.forEach((record, i) => {
    if (kept[i] !== true) return
    entries.push({ ref: infoRef(record.info.path), descriptor: record.descriptor })
    digests.push(record.descriptor.digest)
  })
  const complete = kept.every(k => k)
  // Serve the sharer's own closure record when there was one, so that every holder answers RESOLVE alike.
  const closure = discovery.closure ?? buildClosureRecord(root, discovery.records)
  const held = new Set(discovery.records.map(r => r.info.path))
  const whole = discovery.closure !== undefined || discovery.records.every(r => r.info.references.every(ref => held.has(ref)))
  if (complete && whole && closure !== undefined) {
    await putSmallBlob(ctx.store, closure.bytes, lease)
    entries.push({ ref: closureRef(root), descriptor: closure.descriptor })
    digests.push(closure.descriptor.digest)
  }
  await ctx.store.refs.setMany(entries)
  return digests
}

async function runNow<T> (fn: () => Promise<T>): Promise<T> {
  return await fn()
}

/** Pulls the missing NARs and streams them into `nix-store --import` as they arrive, dependencies first. */
async function fetchAndImport (ctx: FetchContext, missing: readonly PathRecord[], discovery: Discovery, run: PullRun, options: PullClosureOptions,
  tracker: NixPullTracker): Promise<{ imported: StorePath[], results: NetworkPullResult[] }> {
  const keys = [...ctx.trustedKeys, ...(options.trustedKeys ?? [])]
  const pulls = startPulls(ctx, missing, discovery, run, options.concurrency ?? 16, tracker)
  const buffers: Buffer[] = []
  const items: ExportItem[] = missing.map(record => ({ info: record.info, verified: true, nar: () => narOnceHeld(ctx, record, pulls.get(record.info.path), buffers, tracker) }))
  const imported = await ctx.nix.importPaths(items, { signal: run.signal, ...(keys.length > 0 ? { trustedKeys: keys } : {}) })
  return { imported, results: await Promise.all(pulls.values()) }
}

async function pullMissing (ctx: FetchContext, root: StorePath, options: PullClosureOptions, tracker: NixPullTracker, lease: Lease, signal: AbortSignal): Promise<Done> {
  const keys = [...ctx.trustedKeys, ...(options.trustedKeys ?? [])]
  const discovery = await discoverClosure(ctx, root, { signal, lease, trustedKeys: keys })
  const valid = await ctx.nix.validPaths(discovery.records.map(r => r.info.path), { signal })
  const missing = sortRecords(discovery.records.filter(r => !valid.has(r.info.path)))
  // Discovery chose signed records already; checked again before a single NAR moves (SignatureError, nothing imported).
  if (keys.length > 0) for (const record of missing) assertSignedBy(record.info, keys)
  tracker.plan(missing.length, missing.reduce((sum, r) => sum + r.nar.size, 0))
  tracker.phase('fetching')
  const { imported, results } = await (ctx.network.batch ?? runNow)(async () => await fetchAndImport(ctx, missing, discovery, { lease, signal }, options, tracker))
  const digests = await keepRecords(ctx, root, discovery, lease)
  for (const digest of digests) ctx.network.blobAdded(digest)
  const fromPeers: Record<string, number> = {}
  for (const result of results) for (const [peer, bytes] of Object.entries(result.fromPeers)) fromPeers[peer] = (fromPeers[peer] ?? 0) + bytes
  return {
    via: discovery.closure !== undefined ? 'closure' : 'references',
    imported,
    alreadyValid: discovery.records.length - missing.length,
    fetchedBytes: results.reduce((sum, r) => sum + r.fetchedBytes, 0),
    fromPeers
  }
}

/**
 * Pulls the closure of `root` from peers into the local Nix store. Throws PathNotSharedError when no peer shares
 * a needed path, SignatureError when trusted keys are required and a record lacks a valid signature (nothing is
 * imported then), RecordError for malformed or inconsistent records.
 */
export async function pullClosure (ctx: FetchContext, root: StorePath, options: PullClosureOptions = {}): Promise<NixPullResult> {
  const path = parseStorePath(root).path
  const tracker = new NixPullTracker(path, options.onProgress)
  tracker.phase('resolving')
  if (await ctx.nix.isValid(path, options.signal !== undefined ? { signal: options.signal } : {})) {
    tracker.phase('done')
    return { root: path, via: 'local', imported: [], alreadyValid: 1, fetchedBytes: 0, fromPeers: {}, progress: tracker.snapshot() }
  }
  // Stops the NAR pulls still running when the import failed, before the lease goes.
  const controller = new AbortController()
  const signal = options.signal !== undefined ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
  const lease = await ctx.store.createLease()
  try {
    const done = await pullMissing(ctx, path, options, tracker, lease, signal)
    tracker.phase('done')
    return { root: path, ...done, progress: tracker.snapshot() }
  } finally {
    controller.abort(new Error('closure pull ended'))
    await lease.release()
  }
}
