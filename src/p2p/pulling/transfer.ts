/**
 * Moving the pieces of one blob under one piece list: keeps a few GET requests in flight to every usable
 * holder (scheduler.ts chooses which piece), verifies each piece against the list, writes it into the partial
 * blob, serves it onward at once (the download is registered with the holdings) and announces the blob after
 * the first verified piece. A stalled or vanished peer is dropped and its pieces go back to the pool; a peer
 * that sends a bad piece is banned when its own list agrees with ours there, else left out of this list's
 * transfer. The verified-piece state is saved to disk at most every `stateSaveMs`, data first.
 */
import type { Digest } from '../../oci/digest.ts'
import type { PartialBlob } from '../../store/partial.ts'
import { describeError } from '../../util/errors.ts'
import { Bitfield } from '../pieces/bitfield.ts'
import type { PullComponents } from './blob-pull.ts'
import { InvalidPieceListError, NoProvidersError, ProtocolViolationError } from '../errors.ts'
import { penalise } from './failures.ts'
import type { ListBook } from '../pieces/list-book.ts'
import { sleep } from '../protocol/limits.ts'
import { pieceMatches, type PieceList } from '../pieces/piece-list.ts'
import { pieceRange } from '../pieces/pieces.ts'
import { serializePieces, type PullConfig } from './pull-state.ts'
import { checkPiece } from './recheck.ts'
import { PieceScheduler } from './scheduler.ts'
import type { Swarm, SwarmPeer } from './swarm.ts'

export interface TransferContext extends PullComponents {
  swarm: Swarm
  lists: ListBook
  cfg: PullConfig
  signal: AbortSignal
  digest: Digest
  /** The size from a trusted descriptor; a holder reporting another size is lying. */
  descriptorSize: number | undefined
}

export interface TransferInit {
  partial: PartialBlob
  list: PieceList
  verified: Bitfield
  onPiece: (peer: string, bytes: number) => void
  ban: (peer: string, reason: string) => void
}

export class Transfer {
  readonly verified: Bitfield
  private readonly ctx: TransferContext
  private readonly init: TransferInit
  private readonly list: PieceList
  private readonly scheduler: PieceScheduler
  /** Requests in flight by `peer/index`; `exact` ones asked for that piece only (no `want`). */
  private readonly tasks = new Map<string, { controller: AbortController, exact: boolean }>()
  private readonly seen = new Map<string, number>()
  private readonly excluded = new Set<string>()
  /** Verified pieces being written (a duplicate from the endgame is dropped, not written twice). */
  private readonly writing = new Set<number>()
  private fatal: { error: unknown } | undefined
  private wake: () => void = () => {}
  private provided = false
  private lastActive = Date.now()
  private lastSave = 0
  /** How long a piece takes to arrive, on average of late (the endgame doubles only requests older than twice that). */
  private pieceMs = 0
  private saving: Promise<void> = Promise.resolve()

  constructor (ctx: TransferContext, init: TransferInit) {
    this.ctx = ctx
    this.init = init
    this.list = init.list
    this.verified = init.verified
    this.scheduler = new PieceScheduler({ count: init.verified.length, done: init.verified, endgameDuplicates: ctx.cfg.endgameDuplicates })
    ctx.swarm.onChange(() => { this.wake() })
  }

  /**
   * Runs until every piece is verified ('complete'), or until only holders of another list are left ('switch').
   * After 'complete' the pieces stay served from the partial until `release()`, so that peers do not lose this
   * holder while it commits.
   */
  async run (): Promise<'complete' | 'switch'> {
    const { holdings } = this.ctx.exchange
    this.release = holdings.registerDownload({
      digest: this.ctx.digest,
      size: this.list.size,
      list: this.list,
      verified: this.verified,
      path: this.init.partial.path,
      peers: () => this.ctx.swarm.keys()
    })
    let outcome: 'complete' | 'switch' | undefined
    try {
      if (this.verified.count() > 0) this.announce()
      outcome = await this.loop()
      return outcome
    } finally {
      for (const task of this.tasks.values()) task.controller.abort(new Error('transfer ended'))
      while (this.tasks.size > 0) await new Promise<void>(resolve => { this.wake = resolve })
      if (outcome !== 'complete') this.release()
      // A complete blob is committed next: its data is flushed then, and its state file deleted.
      if (outcome !== 'complete') await this.saveState(true)
      else await this.saving
    }
  }

  /** Stops serving the partial (after the commit, or when the pull gives up). */
  release: () => void = () => {}

  private async loop (): Promise<'complete' | 'switch'> {
    while (!this.scheduler.isComplete()) {
      if (this.fatal !== undefined) throw this.fatal.error
      this.ctx.signal.throwIfAborted()
      this.syncPeers()
      this.launch()
      if (this.tasks.size > 0) {
        this.lastActive = Date.now()
      } else {
        if (this.onlyOtherListsLeft()) return 'switch'
        if (Date.now() - this.lastActive > this.ctx.cfg.noProvidersTimeoutMs) {
          throw new NoProvidersError(this.ctx.digest, `for ${this.ctx.cfg.noProvidersTimeoutMs} ms no peer could provide the ${this.scheduler.remaining} missing pieces`)
        }
        this.ctx.swarm.discover()
      }
      // Partial holders are watched for their new pieces; complete ones asked (at a slower rate) for peers they saw.
      this.ctx.swarm.poll(this.ctx.swarm.peers.keys())
      await Promise.race([new Promise<void>(resolve => { this.wake = resolve }), sleep(this.ctx.cfg.pollMs)])
      if (this.fatal === undefined) this.maybeSave()
    }
    if (this.fatal !== undefined) throw this.fatal.error
    return 'complete'
  }

  /** True when every peer left disagrees with our list and another list still has live supporters. */
  private onlyOtherListsLeft (): boolean {
    const { swarm, bans, lists } = this.ctx
    if (this.excluded.size === 0) return false
    const ours = [...swarm.peers.values()].filter(p => !bans.isBanned(p.key) && !this.excluded.has(p.key))
    return ours.length === 0 && lists.hasAlternative(p => !bans.isBanned(p) && swarm.peers.has(p))
  }

  /** Brings the scheduler's view of the peers in line with the swarm's. */
  private syncPeers (): void {
    const { swarm, bans } = this.ctx
    for (const peer of swarm.peers.values()) {
      if (this.ctx.descriptorSize !== undefined && peer.size !== this.list.size) {
        this.init.ban(peer.key, `reports ${peer.size} bytes for a ${this.list.size}-byte blob`)
        continue
      }
      const fits = peer.size === this.list.size && (peer.complete || peer.pieceSize === this.list.pieceSize)
      if (!fits || !swarm.usable(peer) || this.excluded.has(peer.key) || bans.isBanned(peer.key)) {
        this.removePeer(peer.key)
        continue
      }
      if (this.seen.get(peer.key) === peer.version) continue
      this.seen.set(peer.key, peer.version)
      const hint = peer.complete && peer.pieceSize === this.list.pieceSize ? peer.suggest : undefined
      this.scheduler.setPeer(peer.key, peer.complete ? 'all' : (peer.have ?? new Bitfield(this.verified.length)), hint)
    }
    for (const key of this.scheduler.peerKeys()) if (!swarm.peers.has(key)) this.removePeer(key)
  }

  private removePeer (key: string): void {
    this.seen.delete(key)
    if (!this.scheduler.hasPeer(key)) return
    for (const index of this.scheduler.removePeer(key)) this.tasks.get(`${key}/${index}`)?.controller.abort(new Error('peer left'))
  }

  /**
   * Fills free request slots, peers in random order so no holder is always asked first. The scheduler names a
   * piece (rarest first); outside the endgame the request also offers the peer every other piece we lack that
   * nobody is fetching (GET `want`), and the peer sends the one it sent least, or one it has when it lacks
   * ours: a first holder thus sends each piece once before any twice, with no round trip lost. While partial
   * holders are around to trade with, a complete holder is asked only for pieces no partial holder has and that
   * it suggests (super-seeding); once nothing has been in flight for `patienceMs`, for anything.
   */
  private launch (): void {
    const trading = this.scheduler.hasPartialPeers()
    const passes = trading ? [true, false] : [false]
    for (const strict of passes) {
      if (!strict && passes.length > 1 && (this.tasks.size > 0 || Date.now() - this.lastActive < this.ctx.cfg.patienceMs)) return
      const keys = this.scheduler.peerKeys().sort(() => Math.random() - 0.5)
      for (const key of keys) {
        const peer = this.ctx.swarm.peers.get(key)
        if (peer === undefined) continue
        while (this.tasks.size < this.ctx.cfg.maxInflight && this.scheduler.inflightOf(key) < this.ctx.cfg.requestsPerPeer) {
          const index = this.scheduler.assign(key, { strict, endgameAfterMs: 2 * this.pieceMs, inOrder: !trading })
          if (index === undefined) break
          this.start(peer, index, this.scheduler.soleFetcher(key, index) ? this.scheduler.want(key, index, { strict }) : undefined)
        }
      }
    }
  }

  private start (peer: SwarmPeer, index: number, want: Bitfield | undefined): void {
    const id = `${peer.key}/${index}`
    const controller = new AbortController()
    this.tasks.set(id, { controller, exact: want === undefined })
    this.fetch(peer, index, want, controller)
      .catch(err => { this.fatal ??= { error: err } })
      .finally(() => {
        this.tasks.delete(id)
        this.wake()
      })
  }

  private async fetch (peer: SwarmPeer, index: number, want: Bitfield | undefined, controller: AbortController): Promise<void> {
    const signal = AbortSignal.any([this.ctx.signal, controller.signal])
    const started = performance.now()
    let done = (): void => {}
    try {
      const piece = { digest: this.ctx.digest, size: this.list.size, pieceSize: this.list.pieceSize, index }
      const answer = await this.ctx.exchange.client.getPiece(peer.id, piece, { signal, ...(want !== undefined ? { want } : {}) })
      done = answer.release
      const { index: got, verified, suggest } = answer
      if (verified !== undefined) this.ctx.swarm.updateHave(peer.key, verified)
      else this.ctx.swarm.updateSuggest(peer.key, suggest)
      if (this.verified.has(got) || this.writing.has(got)) return
      // Off a plaintext lane, a bad piece is fetched again over an authenticated path before anyone is blamed.
      const good = await checkPiece(this.ctx.exchange.client, peer.id, piece, answer, a => pieceMatches(this.list, got, a.data, a.sha256), signal, () => { this.ctx.exchange.stats.pieceRejected() })
      if (good === undefined) {
        await this.blame(peer, got)
        return
      }
      done = good.release
      const { data } = good
      // Written as the chunks came off the wire: joining them would copy every piece once more.
      this.writing.add(got)
      try {
        await this.init.partial.writev(pieceRange(got, this.list.size, this.list.pieceSize).start, [...data])
      } finally {
        this.writing.delete(got)
      }
      this.verified.set(got)
      this.ctx.exchange.stats.pieceVerified()
      const took = performance.now() - started
      this.pieceMs = this.pieceMs === 0 ? took : 0.8 * this.pieceMs + 0.2 * took
      this.ctx.exchange.holdings.pieceAdded(this.ctx.digest)
      // Requests for this piece alone are moot; those that offered others may still bring one of those.
      for (const other of this.scheduler.complete(peer.key, got)) {
        const task = this.tasks.get(`${other}/${got}`)
        if (task?.exact === true) task.controller.abort(new Error('piece arrived from another peer'))
      }
      this.init.onPiece(peer.key, data.byteLength)
      this.announce()
    } catch (err) {
      if (this.ctx.signal.aborted || controller.signal.aborted) return
      penalise({ swarm: this.ctx.swarm, ban: this.init.ban, exclude: key => this.excluded.add(key) }, peer, index, err)
    } finally {
      done()
      this.scheduler.release(peer.key, index)
    }
  }

  /** A piece failed the list: the sender lied if its own list agrees with ours there; else the lists disagree. */
  private async blame (peer: SwarmPeer, index: number): Promise<void> {
    const { lists } = this.ctx
    if (lists.supportsCurrent(peer.key)) {
      this.init.ban(peer.key, `piece ${index} fails the piece list the peer gave`)
      return
    }
    if (!lists.hasListOf(peer.key)) {
      try {
        lists.add(peer.key, await this.ctx.exchange.client.pieceList(peer.id, this.ctx.digest, this.list.size, { signal: this.ctx.signal }))
      } catch (err) {
        if (err instanceof ProtocolViolationError || err instanceof InvalidPieceListError) this.init.ban(peer.key, `bad piece ${index}, then ${err.message}`)
        else this.excluded.add(peer.key)
        return
      }
    }
    if (lists.agreesAt(peer.key, index)) {
      this.init.ban(peer.key, `served a corrupt piece ${index}`)
    } else {
      this.ctx.logger.info(`peer ${peer.key} disagrees with the piece list of ${this.ctx.digest}; leaving it out of this list's transfer`)
      this.excluded.add(peer.key)
    }
  }

  /** Announces the blob once, as soon as one piece is verified (docs/protocol.md §5). */
  private announce (): void {
    if (this.provided) return
    this.provided = true
    void this.ctx.routing.provide(this.ctx.digest).catch(err => { this.ctx.logger.debug(`announce of ${this.ctx.digest} failed: ${describeError(err)}`) })
  }

  private maybeSave (): void {
    if (Date.now() - this.lastSave < this.ctx.cfg.stateSaveMs) return
    void this.saveState(false).catch(err => { this.fatal ??= { error: err } })
  }

  /** Writes the verified pieces and the list into the partial's state file (partial.saveState syncs data first). */
  private async saveState (force: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      if (!force && Date.now() - this.lastSave < this.ctx.cfg.stateSaveMs) return
      this.lastSave = Date.now()
      const supporters = this.ctx.lists.supporters
      await this.init.partial.saveState({ pieces: serializePieces({ list: this.list, verified: this.verified.clone(), supporters }) })
    }
    this.saving = this.saving.then(run, run)
    await this.saving
  }
}
