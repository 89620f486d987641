/**
 * Where a binary cache gets what it serves. The contract is two calls so that other sources (answering from peers
 * on demand, from a local NAR cache, a chain of both) plug in behind the same HTTP server; `LocalNixSource` is
 * the first implementation.
 */
import type { LocalNix } from './local-nix.ts'
import type { PathInfo } from './path-info.ts'
import { hashPartOf, isHashPart } from './store-path.ts'
import { untilAborted } from '../util/abort.ts'

export interface SourceCallOptions {
  signal?: AbortSignal
}

export interface PathSource {
  /** The info of the store path whose hash part is `hashPart`, or undefined when this source cannot provide it. */
  lookup: (hashPart: string, options?: SourceCallOptions) => Promise<PathInfo | undefined>
  /**
   * The NAR of a path that `lookup` returned. Sources that fetch from untrusted places verify it against
   * `info.narHash` (verifyNarStream) so that a bad NAR ends in an error rather than a clean end of stream.
   */
  openNar: (info: PathInfo, options?: SourceCallOptions) => AsyncIterable<Uint8Array>
}

export interface LocalNixSourceInit {
  /** Path infos kept in memory (they never change while the path is valid). @default 10000 */
  cacheSize?: number
}

/**
 * Serves the paths of a local Nix store. A lookup miss asks Nix for the whole closure of the path found, since a
 * client that asked for one narinfo asks for its references next. Concurrent lookups of one path share one
 * query: Nix clients ask for a closure's narinfos many at a time, and each query costs Nix processes.
 */
export class LocalNixSource implements PathSource {
  readonly #nix: LocalNix
  readonly #cacheSize: number
  readonly #cache = new Map<string, PathInfo>()
  /** Queries in flight, by hash part. */
  readonly #pending = new Map<string, Promise<PathInfo | undefined>>()

  constructor (nix: LocalNix, init: LocalNixSourceInit = {}) {
    this.#nix = nix
    this.#cacheSize = init.cacheSize ?? 10_000
  }

  async lookup (hashPart: string, options: SourceCallOptions = {}): Promise<PathInfo | undefined> {
    if (!isHashPart(hashPart)) return undefined
    const cached = this.#cache.get(hashPart)
    // A cached path may have been garbage-collected since; the files' presence is the cheap check.
    if (cached !== undefined && await this.#nix.existsOnDisk(cached.path)) return cached
    this.#cache.delete(hashPart)
    let pending = this.#pending.get(hashPart)
    if (pending === undefined) {
      // Shared by every caller, so bound to none of their signals: a query ends on its own (LocalNix's timeout).
      pending = this.#query(hashPart).finally(() => this.#pending.delete(hashPart))
      // Its callers may all have stopped waiting: a failure then must not surface as an unhandled rejection.
      pending.catch(() => {})
      this.#pending.set(hashPart, pending)
    }
    return await untilAborted(pending, options.signal)
  }

  async #query (hashPart: string): Promise<PathInfo | undefined> {
    const path = await this.#nix.findPathByHashPart(hashPart)
    if (path === undefined) return undefined
    const infos = await this.#nix.pathInfos([path], { recursive: true })
    for (const info of infos) this.#remember(info)
    return infos.find(info => info.path === path)
  }

  openNar (info: PathInfo, options: SourceCallOptions = {}): AsyncIterable<Uint8Array> {
    return this.#nix.dumpNar(info.path, options)
  }

  #remember (info: PathInfo): void {
    const hashPart = hashPartOf(info.path)
    this.#cache.delete(hashPart)
    this.#cache.set(hashPart, info)
    if (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next()
      if (oldest.done !== true) this.#cache.delete(oldest.value)
    }
  }
}
