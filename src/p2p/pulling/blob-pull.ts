/**
 * One blob pull (docs/protocol.md §3 and §7): find holders, agree on a piece list, fetch pieces
 * from every holder in parallel into the store's partial blob, verify each against the list, serve verified
 * pieces onward at once, and commit with the whole-blob digest. The attempt loop below handles the lists;
 * transfer.ts moves the pieces.
 */
import type { PeerId } from '@libp2p/interface'
import type { Digest } from '../../oci/digest.ts'
import { DigestMismatchError } from '../../store/errors.ts'
import type { Lease } from '../../store/leases.ts'
import type { PartialBlob } from '../../store/partial.ts'
import type { Store } from '../../store/store.ts'
import type { BlobInfo } from '../../store/blob-store.ts'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'
import { Bitfield } from '../pieces/bitfield.ts'
import { BlobTooLargeError, InvalidPieceListError, NoProvidersError, ProtocolViolationError } from '../errors.ts'
import type { Exchange } from '../exchange.ts'
import { ListBook, carryOver } from '../pieces/list-book.ts'
import { impliedPieceList, type PieceList } from '../pieces/piece-list.ts'
import { pieceCount } from '../pieces/pieces.ts'
import { parsePieces, type BanList, type PullConfig } from './pull-state.ts'
import type { Routing } from '../routing/routing.ts'
import { Swarm } from './swarm.ts'
import { Transfer } from './transfer.ts'
import { pullWhole } from './whole-pull.ts'

export interface PullComponents {
  store: Store
  exchange: Pick<Exchange, 'client' | 'holdings' | 'learnPeer' | 'pieceSizeFor' | 'stats'>
  routing: Routing
  self: PeerId
  bans: BanList
  logger: Logger
}

export interface BlobPullOptions {
  signal?: AbortSignal
  /** Keeps the committed blob out of GC's reach until the caller writes a ref (store/leases.ts). */
  lease?: Lease
  /** Peers believed to hold the blob, asked before routing answers. */
  providers?: PeerId[]
  /** Largest size accepted when the descriptor gives none. @default 4 MiB */
  maxSize?: number
  /** Called for every verified piece with the peer that sent it. */
  onPiece?: (peer: string, bytes: number) => void
  /** Called once the size is known, with the verified bytes a resumed pull already had. */
  onStart?: (size: number, resumedBytes: number) => void
  /**
   * The `providers` hold the blob complete (they announced a whole Nix closure): a blob of known size that fits
   * one GET is first asked of them whole, without HAVE, piece list or routing (direct-pull.ts).
   */
  direct?: boolean
}

export interface BlobPullResult {
  digest: Digest
  size: number
  /** The store had the blob already. */
  alreadyPresent: boolean
  /** Verified bytes found in the partial blob at the start (a resumed pull). */
  resumedBytes: number
  /** Verified piece bytes received in this run, in total and by peer. */
  fetchedBytes: number
  fromPeers: Record<string, number>
}

export class BlobPull {
  private readonly c: PullComponents
  private readonly cfg: PullConfig
  private readonly digest: Digest
  private readonly options: BlobPullOptions
  private readonly signal: AbortSignal
  private readonly lists = new ListBook()
  private readonly swarm: Swarm
  private size: number | undefined
  /** The descriptor's size: trusted (it comes from a verified manifest), unlike a size peers report. */
  private readonly trustedSize: number | undefined
  private partial: PartialBlob | undefined
  private verified: Bitfield | undefined
  private resumedBytes = 0
  private triedState = false
  private readonly result = { fetchedBytes: 0, fromPeers: {} as Record<string, number> }

  constructor (components: PullComponents, cfg: PullConfig, descriptor: { digest: Digest, size?: number }, options: BlobPullOptions) {
    this.c = components
    this.cfg = cfg
    this.digest = descriptor.digest
    this.size = descriptor.size
    this.trustedSize = descriptor.size
    this.options = options
    this.signal = options.signal ?? new AbortController().signal
    this.swarm = new Swarm({
      digest: this.digest,
      self: components.self,
      client: components.exchange.client,
      learn: entry => components.exchange.learnPeer(entry),
      routing: components.routing,
      isBanned: key => components.bans.isBanned(key),
      ban: (key, reason) => { this.ban(key, reason) },
      signal: this.signal,
      logger: components.logger,
      pollMs: cfg.pollMs,
      haveWaitMs: cfg.haveWaitMs,
      maxWatched: cfg.maxWatched,
      rediscoverMs: cfg.rediscoverMs,
      maxFailures: cfg.maxFailures
    })
  }

  async run (): Promise<BlobPullResult> {
    const present = await this.c.store.blobs.stat(this.digest)
    if (present !== undefined) {
      await this.options.lease?.add(this.digest)
      return { digest: this.digest, size: present.size, alreadyPresent: true, resumedBytes: 0, fetchedBytes: 0, fromPeers: {} }
    }
    for (const peer of this.options.providers ?? []) this.swarm.probe(peer)
    this.swarm.discover()
    const size = this.size ?? await this.learnSize()
    if (size === 0) return await this.writeEmpty()
    const whole = impliedPieceList(this.digest, size, this.c.exchange.pieceSizeFor(size))
    if (whole !== undefined) return await this.pullWhole(whole)
    for (let attempt = 1; attempt <= this.cfg.maxAttempts; attempt++) {
      this.signal.throwIfAborted()
      this.partial ??= await this.c.store.openPartial(this.digest, size)
      const list = await this.prepareList(this.partial, size)
      if (attempt === 1) this.options.onStart?.(size, this.resumedBytes)
      const transfer = new Transfer({ ...this.c, swarm: this.swarm, lists: this.lists, cfg: this.cfg, signal: this.signal, digest: this.digest, descriptorSize: this.trustedSize }, {
        partial: this.partial,
        list,
        verified: this.verified ?? new Bitfield(pieceCount(size, list.pieceSize)),
        onPiece: (peer, bytes) => { this.countPiece(peer, bytes) },
        ban: (peer, reason) => { this.ban(peer, reason) }
      })
      const outcome = await transfer.run()
      this.verified = transfer.verified
      if (outcome === 'switch') {
        this.switchList(size)
        continue
      }
      const info = await this.commit(this.partial, list).finally(() => { transfer.release() })
      if (info !== undefined) return { digest: this.digest, size, alreadyPresent: false, resumedBytes: this.resumedBytes, ...this.result }
    }
    throw new NoProvidersError(this.digest, `${this.cfg.maxAttempts} piece lists tried, none led to the digest`)
  }

  /** Releases the partial (keeping its data for a resume) if the pull did not commit. */
  async close (): Promise<void> {
    this.swarm.close()
    await this.partial?.close()
  }

  private countPiece (peer: string, bytes: number): void {
    this.result.fetchedBytes += bytes
    this.result.fromPeers[peer] = (this.result.fromPeers[peer] ?? 0) + bytes
    this.options.onPiece?.(peer, bytes)
  }

  private ban (peer: string, reason: string): void {
    if (this.c.bans.ban(peer, reason)) this.c.logger.warn(`banned peer ${peer}: ${reason}`)
    this.swarm.forget(peer)
  }

  private async learnSize (): Promise<number> {
    const size = await this.swarm.waitForSize(AbortSignal.any([this.signal, AbortSignal.timeout(this.cfg.noProvidersTimeoutMs)]))
      .catch(err => {
        this.signal.throwIfAborted()
        throw new NoProvidersError(this.digest, describeError(err))
      })
    const limit = this.options.maxSize ?? 4 * 1024 * 1024
    if (size > limit) throw new BlobTooLargeError(this.digest, size, limit)
    this.size = size
    return size
  }

  /** A one-piece blob, fetched into memory and written at once (whole-pull.ts). */
  private async pullWhole (list: PieceList): Promise<BlobPullResult> {
    this.options.onStart?.(list.size, 0)
    const context = { digest: this.digest, swarm: this.swarm, client: this.c.exchange.client, stats: this.c.exchange.stats, store: this.c.store, cfg: this.cfg, signal: this.signal, ban: (peer: string, reason: string) => { this.ban(peer, reason) } }
    const peer = await pullWhole(context, list, this.options.lease)
    this.countPiece(peer, list.size)
    void this.c.routing.provide(this.digest).catch(err => { this.c.logger.debug(`announce of ${this.digest} failed: ${describeError(err)}`) })
    return { digest: this.digest, size: list.size, alreadyPresent: false, resumedBytes: 0, ...this.result }
  }

  private async writeEmpty (): Promise<BlobPullResult> {
    const info = await this.c.store.blobs.write(this.digest, (async function * () {})(), { size: 0, ...(this.options.lease !== undefined ? { lease: this.options.lease } : {}) })
    return { digest: this.digest, size: info.size, alreadyPresent: false, resumedBytes: 0, fetchedBytes: 0, fromPeers: {} }
  }

  /** The list to work with: the resumed one, the current one, or the best one peers give. */
  private async prepareList (partial: PartialBlob, size: number): Promise<PieceList> {
    if (!this.triedState) {
      this.triedState = true
      const saved = parsePieces(partial.pieces, this.digest, size)
      if (saved !== undefined) {
        for (const peer of saved.supporters.length > 0 ? saved.supporters : ['(saved)']) this.lists.add(peer, saved.list)
        this.lists.choose(() => false)
        this.verified = saved.verified
        this.resumedBytes = [...saved.verified.indices()].reduce((sum, i) => sum + Math.min(saved.list.pieceSize, size - i * saved.list.pieceSize), 0)
      }
    }
    const deadline = Date.now() + this.cfg.noProvidersTimeoutMs
    while (this.lists.current === undefined) {
      this.signal.throwIfAborted()
      await this.gatherLists(size)
      if (this.lists.choose(p => this.c.bans.isBanned(p), p => this.swarm.peers.get(p)?.complete === true) !== undefined) break
      if (Date.now() > deadline) throw new NoProvidersError(this.digest, 'no peer gave a usable piece list')
      this.swarm.discover()
      await this.swarm.waitForChange(this.cfg.pollMs, this.signal)
    }
    const list = this.lists.current as PieceList
    if (this.verified?.length !== pieceCount(size, list.pieceSize)) this.verified = undefined
    return list
  }

  /** Asks up to `listSources` holders (complete ones first) for their piece lists. */
  private async gatherLists (size: number): Promise<void> {
    const candidates = [...this.swarm.peers.values()]
      .filter(p => this.swarm.usable(p) && !this.lists.hasListOf(p.key) && p.size === size)
      .sort((a, b) => Number(b.complete) - Number(a.complete))
      .slice(0, this.cfg.listSources)
    await Promise.all(candidates.map(async peer => {
      try {
        this.lists.add(peer.key, await this.c.exchange.client.pieceList(peer.id, this.digest, size, { signal: this.signal }))
      } catch (err) {
        if (this.signal.aborted) return
        if (err instanceof ProtocolViolationError || err instanceof InvalidPieceListError) this.ban(peer.key, `bad piece list: ${err.message}`)
        else this.swarm.drop(peer.key, describeError(err))
      }
    }))
  }

  /** Moves to another list; pieces verified under the old one stay only where both lists agree. */
  private switchList (size: number): void {
    const old = this.lists.current
    const live = (p: string): boolean => !this.c.bans.isBanned(p) && this.swarm.peers.has(p)
    const next = this.lists.choose(live) ?? this.lists.choose(p => this.c.bans.isBanned(p))
    if (old === undefined || next === undefined || this.verified === undefined) {
      this.verified = undefined
      return
    }
    const kept = carryOver(old, next, this.verified.indices())
    this.verified = new Bitfield(pieceCount(size, next.pieceSize))
    for (const i of kept) this.verified.set(i)
    this.c.logger.info(`switched piece list for ${this.digest}; kept ${kept.length} verified pieces`)
  }

  /** Commits; on a digest mismatch the list was a lie: ban its givers and return undefined for another try. */
  private async commit (partial: PartialBlob, list: PieceList): Promise<BlobInfo | undefined> {
    let info: BlobInfo
    try {
      info = await partial.commit(this.options.lease)
    } catch (err) {
      if (!(err instanceof DigestMismatchError)) throw err
      // commit() discarded the partial: the next attempt starts from an empty file with another list.
      this.partial = undefined
      this.verified = undefined
      for (const peer of this.lists.refuteCurrent()) this.ban(peer, 'gave a piece list that fails the blob digest')
      return undefined
    }
    this.partial = undefined
    await this.c.exchange.holdings.pieceLists.put(this.digest, list)
    for (const peer of this.lists.dissenters()) this.ban(peer, 'gave a piece list that the blob digest disproves')
    void this.c.routing.provide(this.digest).catch(err => { this.c.logger.debug(`announce of ${this.digest} failed: ${describeError(err)}`) })
    return info
  }
}
