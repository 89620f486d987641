/**
 * The binary cache's PathSource for a node (docs/nix.md "Binary cache"): records this node holds (paths it was
 * told to share, or pulled through it; NAR in the blob store), then peers on demand: the
 * record is resolved and pulled when Nix asks for the narinfo, the NAR when Nix asks for the NAR, and both are
 * kept (refs set) so the node serves them onward. The cache signs what it serves with the node's key, i.e. the
 * node vouches for it. So a record is fetched from peers on demand only when the node has trusted Nix keys
 * (`nixTrustedKeys`) and the record carries a signature by one of them: without keys, the cache would sign and
 * hand to Nix whatever the connected peers claim, and any peer could put code into the local Nix store.
 *
 * Other paths of the local Nix store are not served, because the cache signs what it serves and anyone who can
 * reach it could read every build on the machine (private sources, secrets in derivations): what a node offers
 * is what the operator shared. `serveLocalStore` serves the whole local store first, as an opt-in.
 */
import { describeError } from '../util/errors.ts'
import { RecordError } from './network-errors.ts'
import { LocalNixSource, type PathSource, type SourceCallOptions } from './path-source.ts'
import { infoRef, type PathRecord } from './path-record.ts'
import type { PathInfo } from './path-info.ts'
import { fetchPathRecord, type FetchContext } from './record-fetch.ts'
import { ensureEmptyConfig, putSmallBlob, readLocalRecord } from './record-store.ts'
import { hashPartOf, isHashPart } from './store-path.ts'

export interface PeerPathSourceInit {
  /** Records from peers kept in memory. @default 10000 */
  cacheSize?: number
  /** Serve every valid path of the local Nix store too, not only shared and pulled ones. @default false */
  serveLocalStore?: boolean
}

export class PeerPathSource implements PathSource {
  readonly #ctx: FetchContext
  readonly #local: LocalNixSource | undefined
  readonly #cacheSize: number
  /** hashPart -> record, for paths served from the blob store (held or pulled from peers). */
  readonly #records = new Map<string, PathRecord>()

  constructor (ctx: FetchContext, init: PeerPathSourceInit = {}) {
    this.#ctx = ctx
    this.#local = init.serveLocalStore === true ? new LocalNixSource(ctx.nix) : undefined
    this.#cacheSize = init.cacheSize ?? 10_000
  }

  async lookup (hashPart: string, options: SourceCallOptions = {}): Promise<PathInfo | undefined> {
    if (!isHashPart(hashPart)) return undefined
    const local = await this.#local?.lookup(hashPart, options)
    if (local !== undefined) {
      this.#records.delete(hashPart)
      return local
    }
    return (await this.#record(hashPart, options))?.info
  }

  openNar (info: PathInfo, options: SourceCallOptions = {}): AsyncIterable<Uint8Array> {
    const record = this.#records.get(hashPartOf(info.path))
    if (record !== undefined) return this.#fromBlobs(record, info, options)
    if (this.#local === undefined) throw new RecordError(`${info.path} is not shared by this node`)
    return this.#local.openNar(info, options)
  }

  async #record (hashPart: string, options: SourceCallOptions): Promise<PathRecord | undefined> {
    const cached = this.#records.get(hashPart)
    if (cached !== undefined) return cached
    // Records this node holds were checked when they came in (or are its own): no signature check again.
    let record = await readLocalRecord(this.#ctx.store, hashPart).catch(() => undefined)
    if (record === undefined) {
      if (this.#ctx.trustedKeys.length === 0) {
        this.#ctx.logger.debug(`not fetching ${hashPart} from peers for the binary cache: no trusted Nix keys are configured`)
        return undefined
      }
      try {
        // With trusted keys, only a record one of them signed comes back (SignatureError otherwise).
        record = (await fetchPathRecord(this.#ctx, hashPart, { trustedKeys: this.#ctx.trustedKeys, ...(options.signal !== undefined ? { signal: options.signal } : {}) }))?.record
      } catch (err) {
        options.signal?.throwIfAborted()
        this.#ctx.logger.warn(`not serving ${hashPart} from peers: ${describeError(err)}`)
        return undefined
      }
      if (record === undefined) return undefined
    }
    this.#remember(hashPart, record)
    return record
  }

  async * #fromBlobs (record: PathRecord, info: PathInfo, options: SourceCallOptions): AsyncGenerator<Uint8Array> {
    if (record.info.narHash !== info.narHash) throw new RecordError(`the record of ${info.path} changed while it was served`)
    if (!await this.#ctx.store.blobs.has(record.nar.digest)) await this.#pull(record, options)
    for await (const chunk of await this.#ctx.store.blobs.read(record.nar.digest)) yield chunk as Uint8Array
  }

  /** Pulls the NAR (checked against the narHash by its digest) and keeps the record so peers can get it here. */
  async #pull (record: PathRecord, options: SourceCallOptions): Promise<void> {
    const lease = await this.#ctx.store.createLease()
    try {
      await this.#ctx.network.pullBlob(record.nar, { lease, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
      await ensureEmptyConfig(this.#ctx.store, lease)
      await putSmallBlob(this.#ctx.store, record.bytes, lease)
      await this.#ctx.store.refs.setMany([{ ref: infoRef(record.info.path), descriptor: record.descriptor }])
      this.#ctx.network.blobAdded(record.descriptor.digest)
    } finally {
      await lease.release()
    }
  }

  #remember (hashPart: string, record: PathRecord): void {
    this.#records.delete(hashPart)
    this.#records.set(hashPart, record)
    if (this.#records.size > this.#cacheSize) {
      const oldest = this.#records.keys().next()
      if (oldest.done !== true) this.#records.delete(oldest.value)
    }
  }
}

