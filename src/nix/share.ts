/**
 * Sharing a closure (docs/nix.md "Sharing"): for every path of the closure of the roots, the NAR goes into the
 * blob store under its narHash (verified while it streams, so a corrupted store path is caught here, not by the
 * peer), a path record is written, and the refs `nix/<hashPart>:info` (every path) and `nix/<hashPart>:closure`
 * (every root) are set, then everything is announced. A node advertises what it was told to share, not every
 * valid path of its Nix store: sharing costs a copy of each NAR in the blob store, and what a node offers
 * (perhaps private builds) is the operator's choice.
 */
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Lease } from '../store/leases.ts'
import { describeError } from '../util/errors.ts'
import { mapLimit } from '../util/map-limit.ts'
import type { NixNodeContext } from './network.ts'
import {
  EMPTY_CONFIG, buildClosureRecord, buildPathRecord, closureRef, infoRef, parsePathRecord, type PathRecord
} from './path-record.ts'
import type { PathInfo } from './path-info.ts'
import { ensureEmptyConfig, putSmallBlob } from './record-store.ts'
import { isSignedBy, signPathInfo } from './signing.ts'
import { parseStorePath, type StorePath } from './store-path.ts'

export interface ShareProgress {
  phase: 'collecting' | 'writing' | 'done'
  pathsDone: number
  pathsTotal: number
  /** NAR bytes of the paths done, whether written now or already held. */
  bytesDone: number
  bytesTotal: number
}

export interface ShareOptions {
  signal?: AbortSignal
  onProgress?: (progress: ShareProgress) => void
  /** NARs written at once. @default 2 */
  concurrency?: number
}

export interface ShareResult {
  roots: StorePath[]
  /** Paths in the closure of the roots. */
  paths: number
  /** NARs this call wrote into the blob store (the rest were held already). */
  written: number
  narBytes: number
  /** Digests of every blob the share reaches (NARs, records, closure records). */
  digests: Digest[]
}

export interface ShareContext extends NixNodeContext {
  /** Called for every blob of the share once its refs are set. */
  announce?: (digest: Digest) => void
}

function sameContent (a: PathInfo, b: PathInfo): boolean {
  return a.narHash === b.narHash && a.narSize === b.narSize && a.references.join(' ') === b.references.join(' ') && a.deriver === b.deriver
}

/** The path's signatures: those Nix and an earlier record hold, plus ours unless it signed already. */
function signatures (ctx: NixNodeContext, info: PathInfo, earlier: PathRecord | undefined): string[] {
  const sigs = new Set([...info.sigs, ...(earlier !== undefined && sameContent(earlier.info, info) ? earlier.info.sigs : [])])
  const key = ctx.signingKey
  if (key !== undefined && !isSignedBy({ ...info, sigs: [...sigs] }, [key.publicKey])) {
    for (const sig of sigs) if (sig.startsWith(`${key.name}:`)) sigs.delete(sig)
    sigs.add(signPathInfo(info, key))
  }
  return [...sigs].sort()
}

async function earlierRecord (ctx: ShareContext, refs: Map<string, Descriptor>, path: StorePath): Promise<PathRecord | undefined> {
  const descriptor = refs.get(infoRef(path))
  if (descriptor === undefined) return undefined
  try {
    return parsePathRecord(await ctx.store.blobs.readBytes(descriptor.digest))
  } catch (err) {
    ctx.logger.warn(`ignoring the unreadable record of ${path}: ${describeError(err)}`)
    return undefined
  }
}

/** Writes the NAR (unless held) and the record of one path. */
async function sharePath (ctx: ShareContext, info: PathInfo, earlier: PathRecord | undefined, lease: Lease, signal: AbortSignal | undefined): Promise<{ record: PathRecord, written: boolean }> {
  const record = buildPathRecord({ ...info, sigs: signatures(ctx, info, earlier) })
  let written = false
  if (await ctx.store.blobs.has(record.nar.digest)) {
    await lease.add(record.nar.digest)
  } else {
    // The blob store checks the bytes against the digest, i.e. the NAR against the narHash Nix registered.
    await ctx.store.blobs.write(record.nar.digest, ctx.nix.dumpNar(info.path, signal !== undefined ? { signal } : {}),
      { size: record.nar.size, lease, ...(signal !== undefined ? { signal } : {}) })
    written = true
  }
  await putSmallBlob(ctx.store, record.bytes, lease)
  return { record, written }
}

/** The records of the closure of `root` among `byPath`. */
function closureOf (root: StorePath, byPath: Map<StorePath, PathRecord>): PathRecord[] {
  const seen = new Set<StorePath>([root])
  const queue = [root]
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    for (const ref of byPath.get(path)?.info.references ?? []) {
      if (!seen.has(ref)) {
        seen.add(ref)
        queue.push(ref)
      }
    }
  }
  return [...seen].flatMap(p => byPath.get(p) ?? [])
}

/** Shares the closures of `roots` (docs/nix.md); PathNotValidError when a root is not valid in the Nix store. */
export async function sharePaths (ctx: ShareContext, roots: readonly StorePath[], options: ShareOptions = {}): Promise<ShareResult> {
  const rootPaths = [...new Set(roots.map(r => parseStorePath(r).path))]
  const signal = options.signal
  const progress: ShareProgress = { phase: 'collecting', pathsDone: 0, pathsTotal: 0, bytesDone: 0, bytesTotal: 0 }
  options.onProgress?.({ ...progress })
  const infos = await ctx.nix.closure(rootPaths, signal !== undefined ? { signal } : {})
  progress.phase = 'writing'
  progress.pathsTotal = infos.length
  progress.bytesTotal = infos.reduce((sum, i) => sum + i.narSize, 0)
  options.onProgress?.({ ...progress })
  const refs = new Map((await ctx.store.refs.list()).map(e => [e.ref, e.descriptor]))
  const lease = await ctx.store.createLease()
  try {
    await ensureEmptyConfig(ctx.store, lease)
    const shared = await mapLimit(infos, options.concurrency ?? 2, async info => {
      signal?.throwIfAborted()
      const done = await sharePath(ctx, info, await earlierRecord(ctx, refs, info.path), lease, signal)
      progress.pathsDone++
      progress.bytesDone += info.narSize
      options.onProgress?.({ ...progress })
      return done
    })
    const byPath = new Map(shared.map(s => [s.record.info.path, s.record]))
    const entries = shared.map(s => ({ ref: infoRef(s.record.info.path), descriptor: s.record.descriptor }))
    const digests: Digest[] = [EMPTY_CONFIG.digest as Digest, ...shared.flatMap(s => [s.record.nar.digest, s.record.descriptor.digest])]
    for (const root of rootPaths) {
      const closure = buildClosureRecord(root, closureOf(root, byPath))
      if (closure === undefined) {
        ctx.logger.warn(`the closure of ${root} is too large for one closure record; peers will follow its references`)
        continue
      }
      await putSmallBlob(ctx.store, closure.bytes, lease)
      entries.push({ ref: closureRef(root), descriptor: closure.descriptor })
      digests.push(closure.descriptor.digest)
    }
    await ctx.store.refs.setMany(entries)
    for (const digest of digests) ctx.announce?.(digest)
    progress.phase = 'done'
    options.onProgress?.({ ...progress })
    return { roots: rootPaths, paths: infos.length, written: shared.filter(s => s.written).length, narBytes: progress.bytesTotal, digests }
  } finally {
    await lease.release()
  }
}
