/**
 * The peers of one blob pull and what each holds. Peers come from routing (DHT and the connected-peers fast
 * path), from the caller, and from peer exchange: every HAVE answer names other peers that hold or fetch the
 * blob, and those are asked too, so a downloader learns the whole swarm without waiting for the DHT. Partial
 * holders are polled again while the pull needs pieces, to learn the pieces they verified since.
 */
import type { PeerId } from '@libp2p/interface'
import type { Digest } from '../../oci/digest.ts'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'
import type { Bitfield } from '../pieces/bitfield.ts'
import type { ExchangeClient } from '../protocol/client.ts'
import type { PexPeer } from '../protocol/codec.ts'
import { ProtocolViolationError } from '../errors.ts'
import { sleep } from '../protocol/limits.ts'
import type { Routing } from '../routing/routing.ts'

export interface SwarmPeer {
  id: PeerId
  key: string
  complete: boolean
  size: number
  pieceSize: number
  /** Verified pieces of a partial holder. */
  have: Bitfield | undefined
  /** A complete holder's super-seeding hint: the pieces it has sent least. */
  suggest: Bitfield | undefined
  /** Bumped on every change of what the peer holds. */
  version: number
  failures: number
  droppedUntil: number
  lastPoll: number
}

export interface SwarmContext {
  digest: Digest
  self: PeerId
  client: Pick<ExchangeClient, 'have'>
  /** Records a peer-exchange entry's addresses; returns its id, or undefined for garbage. */
  learn: (entry: PexPeer) => PeerId | undefined
  routing: Routing
  isBanned: (key: string) => boolean
  /** Called for every peer that turned out to break the protocol. */
  ban: (key: string, reason: string) => void
  signal: AbortSignal
  logger: Logger
  /** Least time between two HAVE polls of one partial holder. */
  pollMs: number
  /** Least time between two routing searches. */
  rediscoverMs: number
  /** A peer that failed this many times is forgotten for the pull. */
  maxFailures: number
  /** How long a partial holder is asked to hold a watching HAVE (a long poll for its new pieces). */
  haveWaitMs: number
  /** Partial holders watched at once; the others are asked HAVE now and then. */
  maxWatched: number
}

export class Swarm {
  readonly peers = new Map<string, SwarmPeer>()
  private readonly ctx: SwarmContext
  /** Aborted by the caller's signal or by close(): ends searches and watches when the pull is over. */
  private readonly controller = new AbortController()
  private readonly signal: AbortSignal
  private readonly probing = new Set<string>()
  private readonly watching = new Set<string>()
  private readonly forgotten = new Set<string>()
  private discovering = false
  private lastDiscovery = 0
  private readonly listeners: Array<() => void> = []
  private waiters: Array<() => void> = []

  constructor (ctx: SwarmContext) {
    this.ctx = ctx
    this.signal = AbortSignal.any([ctx.signal, this.controller.signal])
  }

  /** Stops every search, probe and watch of this swarm (the pull is over). */
  close (): void {
    this.controller.abort(new Error('the pull is over'))
  }

  /** Resolves at the next change of a peer, or after `ms`. */
  async waitForChange (ms: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.waiters.push(done)
    })
    signal.throwIfAborted()
  }

  /** `fn` runs whenever a peer is added or changes. */
  onChange (fn: () => void): void {
    this.listeners.push(fn)
  }

  /** True when the peer may be asked now. */
  usable (peer: SwarmPeer): boolean {
    return !this.ctx.isBanned(peer.key) && peer.droppedUntil <= Date.now()
  }

  /** Asks routing for providers unless a search ran within `rediscoverMs`. */
  discover (): void {
    if (this.discovering || Date.now() - this.lastDiscovery < this.ctx.rediscoverMs || this.signal.aborted) return
    this.discovering = true
    this.lastDiscovery = Date.now()
    const signal = AbortSignal.any([this.signal, AbortSignal.timeout(30_000)])
    void (async () => {
      try {
        for await (const peer of this.ctx.routing.findProviders(this.ctx.digest, { signal })) this.probe(peer)
      } catch (err) {
        if (!this.signal.aborted) this.ctx.logger.debug(`provider search for ${this.ctx.digest} ended: ${describeError(err)}`)
      } finally {
        this.discovering = false
        this.lastDiscovery = Date.now()
      }
    })()
  }

  /** Asks `peer` HAVE in the background and records the answer. */
  probe (peer: PeerId): void {
    const key = peer.toString()
    if (peer.equals(this.ctx.self) || this.probing.has(key) || this.watching.has(key) || this.forgotten.has(key) || this.ctx.isBanned(key)) return
    const known = this.peers.get(key)
    // Holders we know are asked again only now and then: complete ones for the peers they have seen since (peer
    // exchange), partial ones beyond those watched for their new pieces.
    if (known !== undefined && Date.now() - known.lastPoll < 5 * this.ctx.pollMs) return
    this.probing.add(key)
    void this.ask(peer, key).finally(() => { this.probing.delete(key) })
  }

  /**
   * Keeps track of the given peers: up to `maxWatched` partial holders are watched (a HAVE each holds until it
   * verified another piece, so we learn of their pieces as they land, as BitTorrent's HAVE messages tell; a
   * few sources keep a download busy, and watching every peer would cost each of N peers N watches). Other
   * holders, complete or partial, are asked again every 5 `pollMs`; a peer we fetch from also tells us its
   * pieces in every answer.
   */
  poll (keys: Iterable<string>): void {
    for (const key of [...keys].sort(() => Math.random() - 0.5)) {
      const peer = this.peers.get(key)
      if (peer === undefined || !this.usable(peer)) continue
      if (!peer.complete && this.watching.size < this.ctx.maxWatched) this.watch(peer)
      else this.probe(peer.id)
    }
  }

  /**
   * Long-polls a partial holder for its new pieces until it completes, fails, leaves, or the pull is over;
   * at most one HAVE every pollMs / 2, so that pieces landing in a burst are told in one answer.
   */
  private watch (peer: SwarmPeer): void {
    if (this.watching.has(peer.key) || this.signal.aborted) return
    this.watching.add(peer.key)
    void (async () => {
      try {
        while (!this.signal.aborted) {
          const current = this.peers.get(peer.key)
          if (current === undefined || current.complete || current.have === undefined || !this.usable(current)) return
          const started = Date.now()
          const news = await this.ask(current.id, current.key, current.have)
          const took = Date.now() - started
          // A 1.0 peer answers at once: then this is a poll, every pollMs.
          if (!news && took < this.ctx.haveWaitMs / 2) await sleep(this.ctx.pollMs, this.signal)
          else if (took < this.ctx.pollMs / 2) await sleep(this.ctx.pollMs / 2 - took, this.signal)
        }
      } catch {
        // Aborted: the pull is over.
      } finally {
        this.watching.delete(peer.key)
      }
    })()
  }

  /** A fresher bitfield of a partial holder (from a PIECE answer). */
  updateHave (key: string, have: Bitfield): void {
    const peer = this.peers.get(key)
    if (peer === undefined || peer.complete) return
    peer.have = have
    peer.version++
    peer.lastPoll = Date.now()
    this.changed()
  }

  /** A complete holder's fresher super-seeding hint (from a PIECE answer). */
  updateSuggest (key: string, suggest: Bitfield | undefined): void {
    const peer = this.peers.get(key)
    if (peer === undefined || !peer.complete) return
    if (peer.suggest === undefined && suggest === undefined) return
    peer.suggest = suggest
    peer.version++
  }

  /** The peer stalled or vanished: leave it alone for a while, or for good after `maxFailures`. */
  drop (key: string, why: string): void {
    const peer = this.peers.get(key)
    if (peer === undefined) return
    peer.failures++
    this.ctx.logger.debug(`dropping peer ${key} for ${this.ctx.digest}: ${why}`)
    if (peer.failures >= this.ctx.maxFailures) {
      this.forget(key)
      return
    }
    peer.droppedUntil = Date.now() + 500 * 2 ** peer.failures
    peer.version++
    this.changed()
  }

  /** The peer is busy: leave it alone for `ms` without counting a failure. */
  pause (key: string, ms: number): void {
    const peer = this.peers.get(key)
    if (peer === undefined) return
    peer.droppedUntil = Date.now() + ms
    peer.version++
  }

  /** Removes a peer for the rest of the pull. */
  forget (key: string): void {
    this.forgotten.add(key)
    this.peers.delete(key)
    this.changed()
  }

  /** Resolves with the size a complete holder reports (for a digest pulled without a descriptor). */
  async waitForSize (signal: AbortSignal): Promise<number> {
    while (true) {
      signal.throwIfAborted()
      const holder = [...this.peers.values()].find(p => p.complete && this.usable(p)) ?? [...this.peers.values()].find(p => this.usable(p))
      if (holder !== undefined) return holder.size
      this.discover()
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, 100)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  keys (): string[] {
    return [...this.peers.keys()]
  }

  /**
   * Asks HAVE (holding it while the peer has nothing beyond `known`) and records the answer. True when the
   * peer holds something new.
   */
  private async ask (peer: PeerId, key: string, known?: Bitfield): Promise<boolean> {
    try {
      const options = known !== undefined ? { signal: this.signal, known, waitMs: this.ctx.haveWaitMs } : { signal: this.signal }
      const answer = await this.ctx.client.have(peer, this.ctx.digest, options)
      for (const entry of answer.peers) {
        const named = this.ctx.learn(entry)
        if (named !== undefined) this.probe(named)
      }
      const previous = this.peers.get(key)
      if (!answer.have) {
        if (previous !== undefined) { this.peers.delete(key); this.changed() }
        return false
      }
      const entry: SwarmPeer = previous ?? { id: peer, key, complete: false, size: 0, pieceSize: 0, have: undefined, suggest: undefined, version: 0, failures: 0, droppedUntil: 0, lastPoll: 0 }
      const news = answer.complete || (answer.verified?.count() ?? 0) > (entry.have?.count() ?? 0) || entry.complete !== answer.complete
      entry.complete = answer.complete
      entry.size = answer.size
      entry.pieceSize = answer.pieceSize
      entry.have = answer.verified
      entry.suggest = answer.suggest
      entry.lastPoll = Date.now()
      entry.version++
      this.peers.set(key, entry)
      this.changed()
      if (!entry.complete && this.watching.size < this.ctx.maxWatched) this.watch(entry)
      return news
    } catch (err) {
      if (this.signal.aborted) return false
      if (err instanceof ProtocolViolationError) this.ctx.ban(key, err.message)
      else this.ctx.logger.debug(`HAVE ${this.ctx.digest} to ${key} failed: ${describeError(err)}`)
      if (this.peers.has(key)) this.drop(key, describeError(err))
      return false
    }
  }

  private changed (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const fn of [...this.listeners, ...waiters]) fn()
  }
}
