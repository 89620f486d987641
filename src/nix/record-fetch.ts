/**
 * Finding the records of a closure on the network (docs/nix.md "Pulling"): first the root's closure record
 * (`nix/<hashPart>:closure`, one RESOLVE and one small blob for the whole closure); when no peer has a usable one,
 * the path records (`nix/<hashPart>:info`) level by level, each level's references resolved in parallel, stopping
 * at paths the local Nix store already holds. Every record is parsed strictly and must be for the path asked.
 *
 * Sharers of one path usually hold records that differ only in their signatures, so RESOLVE's peers disagree.
 * With trusted keys, an answer whose records no trusted key signed is set aside and the dissenting peers' answers
 * are tried in turn; only when none verifies does the fetch fail (SignatureError).
 */
import type { Descriptor } from '../oci/types.ts'
import type { Lease } from '../store/leases.ts'
import { mapLimit } from '../util/map-limit.ts'
import { SignatureError } from './errors.ts'
import { PathNotSharedError, RecordError } from './network-errors.ts'
import type { NixNetwork, NixNodeContext } from './network.ts'
import {
  MAX_CLOSURE_RECORD_BYTES, MAX_RECORD_BYTES, checkClosure, closureRef, infoRefOfHashPart, parseClosureRecord,
  parsePathRecord, sortRecords, type ClosureRecord, type PathRecord
} from './path-record.ts'
import { isSignedBy, type PublicKey } from './signing.ts'
import { hashPartOf, type StorePath } from './store-path.ts'

export interface FetchContext extends NixNodeContext {
  network: NixNetwork
}

export interface FetchOptions {
  signal?: AbortSignal
  /** Holds the record blobs pulled until the caller sets refs. */
  lease?: Lease
  /** Records fetched at once. @default 16 */
  concurrency?: number
  /** When non-empty, only records signed by one of these keys are accepted (paths valid locally need none). */
  trustedKeys?: readonly PublicKey[]
  /** Told why a ref could not be resolved (no peer has it, no trusted peer connected, ...). */
  onUnresolved?: (ref: string, err: unknown) => void
}

export interface Discovery {
  /** Dependencies first. With a closure record: the whole closure; else the paths missing locally. */
  records: PathRecord[]
  /** Peers that answered for the records: the first to ask for the NARs. */
  providers: string[]
  /** The closure record the records came from, when a peer had a usable one. */
  closure?: ClosureRecord
}

interface Answer { descriptor: Descriptor, peers: string[] }

function callOptions (options: FetchOptions): { signal?: AbortSignal } {
  return options.signal !== undefined ? { signal: options.signal } : {}
}

/** The answers to RESOLVE `ref`: the majority's first, then each dissenter's own (asked only when wanted). */
async function * answers (ctx: FetchContext, ref: string, options: FetchOptions): AsyncGenerator<Answer> {
  let first: Awaited<ReturnType<NixNetwork['resolve']>>
  try {
    first = await ctx.network.resolve(ref, callOptions(options))
  } catch (err) {
    options.signal?.throwIfAborted()
    ctx.logger.debug(`${ref}: ${err instanceof Error ? err.message : String(err)}`)
    options.onUnresolved?.(ref, err)
    return
  }
  // Dissenters likely hold the same NARs under another record: ask them for pieces too.
  yield { descriptor: first.descriptor, peers: [...first.peers, ...first.dissenters] }
  const seen = new Set([first.descriptor.digest])
  for (const peer of first.dissenters) {
    const descriptor = await ctx.network.resolveAt(peer, ref, callOptions(options)).catch(() => undefined)
    if (descriptor === undefined || seen.has(descriptor.digest)) continue
    seen.add(descriptor.digest)
    yield { descriptor, peers: [peer, ...first.peers] }
  }
}

async function pullJson (ctx: FetchContext, answer: Answer, limit: number, options: FetchOptions): Promise<Uint8Array> {
  const { digest, size } = answer.descriptor
  if (size > limit) throw new RecordError(`${digest} is ${size} bytes, over the ${limit}-byte limit for a record`)
  await ctx.network.pullBlob({ digest, size }, {
    providers: answer.peers,
    direct: true,
    maxSize: limit,
    ...callOptions(options),
    ...(options.lease !== undefined ? { lease: options.lease } : {})
  })
  return await ctx.store.blobs.readBytes(digest)
}

function signed (record: PathRecord, keys: readonly PublicKey[] | undefined): boolean {
  return keys === undefined || keys.length === 0 || isSignedBy(record.info, keys)
}

/**
 * The record peers give for the path with `hashPart`: undefined when no peer has one, SignatureError when
 * trusted keys are given and no answer is signed by one of them.
 */
export async function fetchPathRecord (ctx: FetchContext, hashPart: string, options: FetchOptions = {}): Promise<{ record: PathRecord, peers: string[] } | undefined> {
  let refused: PathRecord | undefined
  for await (const answer of answers(ctx, infoRefOfHashPart(hashPart), options)) {
    const record = parsePathRecord(await pullJson(ctx, answer, MAX_RECORD_BYTES, options))
    if (hashPartOf(record.info.path) !== hashPart) throw new RecordError(`the record named nix/${hashPart}:info is for ${record.info.path}`)
    if (signed(record, options.trustedKeys)) return { record, peers: answer.peers }
    refused ??= record
  }
  if (refused !== undefined) throw new SignatureError(refused.info.path)
  return undefined
}

async function closureFrom (ctx: FetchContext, root: StorePath, answer: Answer, options: FetchOptions): Promise<Discovery> {
  const closure = parseClosureRecord(await pullJson(ctx, answer, MAX_CLOSURE_RECORD_BYTES, options))
  if (closure.root !== root) throw new RecordError(`the closure record named for ${root} is for ${closure.root}`)
  const records = await mapLimit(closure.entries, options.concurrency ?? 16, async entry => {
    const bytes = entry.bytes ?? await pullJson(ctx, { descriptor: entry.descriptor, peers: answer.peers }, MAX_RECORD_BYTES, options)
    const record = parsePathRecord(bytes)
    if (record.info.path !== entry.path) throw new RecordError(`the closure record of ${root} lists ${entry.path} with the record of ${record.info.path}`)
    return record
  })
  return { records: checkClosure(root, records), providers: answer.peers, closure }
}

/** The first closure record whose records (of paths missing locally) are all signed by a trusted key. */
async function fromClosureRecord (ctx: FetchContext, root: StorePath, options: FetchOptions): Promise<Discovery | undefined> {
  for await (const answer of answers(ctx, closureRef(root), options)) {
    const found = await closureFrom(ctx, root, answer, options)
    if (options.trustedKeys === undefined || options.trustedKeys.length === 0) return found
    const valid = await ctx.nix.validPaths(found.records.map(r => r.info.path), callOptions(options))
    if (found.records.every(r => valid.has(r.info.path) || signed(r, options.trustedKeys))) return found
    ctx.logger.info(`the closure record ${answer.descriptor.digest} of ${root} holds records no trusted key signed; trying others`)
  }
  return undefined
}

async function fromPathRecords (ctx: FetchContext, root: StorePath, options: FetchOptions): Promise<Discovery> {
  const records: PathRecord[] = []
  const providers = new Set<string>()
  const seen = new Set<StorePath>([root])
  let frontier: StorePath[] = [root]
  while (frontier.length > 0) {
    const fetched = await mapLimit(frontier, options.concurrency ?? 16, async path => {
      let why: unknown
      const found = await fetchPathRecord(ctx, hashPartOf(path), { ...options, onUnresolved: (_ref, err) => { why = err } })
      if (found === undefined) throw new PathNotSharedError(path, why)
      if (found.record.info.path !== path) throw new RecordError(`the record for ${path} is for ${found.record.info.path}`)
      for (const peer of found.peers) providers.add(peer)
      return found.record
    })
    records.push(...fetched)
    const next = [...new Set(fetched.flatMap(r => r.info.references))].filter(ref => !seen.has(ref))
    for (const ref of next) seen.add(ref)
    const valid = next.length > 0 ? await ctx.nix.validPaths(next, callOptions(options)) : new Set<StorePath>()
    frontier = next.filter(ref => !valid.has(ref))
  }
  // Not a whole closure when some references were valid locally (checkClosure would refuse it): only sort then.
  const byPath = new Set(records.map(r => r.info.path))
  const local = records.flatMap(r => r.info.references).filter(ref => !byPath.has(ref))
  return { records: local.length === 0 ? checkClosure(root, records) : sortRecords(records), providers: [...providers] }
}

/**
 * The records of `root`'s closure from peers. PathNotSharedError when no peer has the root or a reference;
 * SignatureError when trusted keys are given and some path has no record any of them signed.
 */
export async function discoverClosure (ctx: FetchContext, root: StorePath, options: FetchOptions = {}): Promise<Discovery> {
  return await fromClosureRecord(ctx, root, options) ?? await fromPathRecords(ctx, root, options)
}
