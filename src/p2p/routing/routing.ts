/**
 * Routing: who holds a blob. A small contract (like Spegel's Router) with three implementations: the DHT
 * (dht-routing.ts), the peer-exchange fast path that asks connected peers directly (pex-routing.ts), and an
 * in-memory table for unit tests; `CombinedRouting` queries several at once and yields each peer once.
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createMultihash } from 'multiformats/hashes/digest'
import { digestAlgorithm, digestHex, type Digest } from '../../oci/digest.ts'

export interface Routing {
  /** Announces that this node holds (all or part of) `digest`. */
  provide: (digest: Digest, options?: AbortOptions) => Promise<void>
  /** Stops announcing `digest` (the blob was deleted or the pull abandoned). */
  withdraw: (digest: Digest, options?: AbortOptions) => Promise<void>
  /** Peers that announced `digest`, as they are found; ends when the search is exhausted or the signal aborts. */
  findProviders: (digest: Digest, options?: AbortOptions) => AsyncIterable<PeerId>
}

/** Multihash codes of sha2-256 and sha2-512 (multicodec table). */
const MULTIHASH_CODE = { sha256: 0x12, sha512: 0x13 } as const

/**
 * The CID under which a blob is announced: CIDv1, raw codec (0x55), with the blob digest's own bytes as the
 * multihash, so the CID names the same bytes the OCI digest does.
 */
export function digestToCid (digest: Digest): CID {
  return CID.createV1(raw.code, createMultihash(MULTIHASH_CODE[digestAlgorithm(digest)], Buffer.from(digestHex(digest), 'hex')))
}

/** A shared in-memory provider table; give each simulated node its own `MemoryRouting` view. */
export class MemoryRoutingTable {
  readonly providers = new Map<Digest, Map<string, PeerId>>()

  routingFor (self: PeerId): MemoryRouting {
    return new MemoryRouting(this, self)
  }
}

export class MemoryRouting implements Routing {
  private readonly table: MemoryRoutingTable
  private readonly self: PeerId

  constructor (table: MemoryRoutingTable, self: PeerId) {
    this.table = table
    this.self = self
  }

  async provide (digest: Digest): Promise<void> {
    const peers = this.table.providers.get(digest) ?? new Map<string, PeerId>()
    peers.set(this.self.toString(), this.self)
    this.table.providers.set(digest, peers)
  }

  async withdraw (digest: Digest): Promise<void> {
    this.table.providers.get(digest)?.delete(this.self.toString())
  }

  async * findProviders (digest: Digest, options: AbortOptions = {}): AsyncIterable<PeerId> {
    for (const peer of [...(this.table.providers.get(digest)?.values() ?? [])]) {
      options.signal?.throwIfAborted()
      if (!peer.equals(this.self)) yield peer
    }
  }
}

/** Queries every routing at once; provide/withdraw go to all; each provider is yielded once. */
export class CombinedRouting implements Routing {
  private readonly routings: Routing[]

  constructor (routings: Routing[]) {
    this.routings = routings
  }

  async provide (digest: Digest, options?: AbortOptions): Promise<void> {
    await Promise.all(this.routings.map(async r => { await r.provide(digest, options) }))
  }

  async withdraw (digest: Digest, options?: AbortOptions): Promise<void> {
    await Promise.all(this.routings.map(async r => { await r.withdraw(digest, options) }))
  }

  async * findProviders (digest: Digest, options: AbortOptions = {}): AsyncIterable<PeerId> {
    const seen = new Set<string>()
    for await (const peer of merge(this.routings.map(r => r.findProviders(digest, options)))) {
      const key = peer.toString()
      if (seen.has(key)) continue
      seen.add(key)
      yield peer
    }
  }
}

/**
 * Asks `primary` first and `fallback` only when `primary` has named nobody within `graceMs` (or ended without
 * a name): the connected peers answer a HAVE in a round trip, while a DHT search costs a lookup and a message
 * to several peers for every blob. provide/withdraw go to both. Each provider is yielded once.
 */
export class FallbackRouting implements Routing {
  private readonly primary: Routing
  private readonly fallback: Routing
  private readonly graceMs: number

  constructor (primary: Routing, fallback: Routing, graceMs = 500) {
    this.primary = primary
    this.fallback = fallback
    this.graceMs = graceMs
  }

  async provide (digest: Digest, options?: AbortOptions): Promise<void> {
    await Promise.all([this.primary.provide(digest, options), this.fallback.provide(digest, options)])
  }

  async withdraw (digest: Digest, options?: AbortOptions): Promise<void> {
    await Promise.all([this.primary.withdraw(digest, options), this.fallback.withdraw(digest, options)])
  }

  async * findProviders (digest: Digest, options: AbortOptions = {}): AsyncIterable<PeerId> {
    const seen = new Set<string>()
    const iterator = this.primary.findProviders(digest, options)[Symbol.asyncIterator]()
    const deadline = Date.now() + this.graceMs
    let next = iterator.next().catch(() => ({ done: true as const, value: undefined }))
    while (true) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = seen.size === 0 ? new Promise<'late'>(resolve => { timer = setTimeout(() => { resolve('late') }, Math.max(0, deadline - Date.now())) }) : undefined
      const result = await (late !== undefined ? Promise.race([next, late]) : next)
      clearTimeout(timer)
      if (result === 'late') break
      if (result.done === true) break
      const key = result.value.toString()
      if (!seen.has(key)) {
        seen.add(key)
        yield result.value
      }
      next = iterator.next().catch(() => ({ done: true as const, value: undefined }))
    }
    if (seen.size > 0) return
    const rest = async function * (): AsyncIterable<PeerId> {
      for (let result = await next; result.done !== true; result = await iterator.next()) yield result.value
    }
    for await (const peer of merge([rest(), this.fallback.findProviders(digest, options)])) {
      const key = peer.toString()
      if (seen.has(key)) continue
      seen.add(key)
      yield peer
    }
  }
}

/** Interleaves async iterables as their items arrive; an iterable that fails just ends. */
export async function * merge<T> (sources: Array<AsyncIterable<T>>): AsyncIterable<T> {
  const iterators = sources.map(s => s[Symbol.asyncIterator]())
  const pending = new Map<number, Promise<{ at: number, result: IteratorResult<T> }>>()
  const pull = (at: number): void => {
    const iterator = iterators[at]
    if (iterator === undefined) return
    pending.set(at, iterator.next().then(
      result => ({ at, result }),
      () => ({ at, result: { done: true, value: undefined } })
    ))
  }
  iterators.forEach((_, at) => { pull(at) })
  try {
    while (pending.size > 0) {
      const { at, result } = await Promise.race(pending.values())
      pending.delete(at)
      if (result.done === true) continue
      yield result.value
      pull(at)
    }
  } finally {
    for (const [at] of pending) void iterators[at]?.return?.()
  }
}
