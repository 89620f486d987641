/**
 * The peers of one blob pull and what each holds. Peers come from routing (DHT and the connected-peers fast
 * path), from the caller, and from peer exchange: every HAVE answer names other peers that hold or fetch the
 * blob, and those are asked too, so a downloader learns the whole swarm without waiting for the DHT. Partial
 * holders are polled again while the pull needs pieces, to learn the pieces they verified since.
 */
import type { PeerId } from '@libp2p/interface'
import type { Digest } from '../oci/digest.ts'
import { describeError } from '../util/errors.ts'
import type { Logger } from '../util/logger.ts'
import type { Bitfield } from './bitfield.ts'
import type { ExchangeClient } from './client.ts'
import type { PexPeer } from './codec.ts'
import { ProtocolViolationError } from './errors.ts'
import type { Routing } from './routing.ts'


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
}

export class Swarm {
  readonly peers = new Map<string, SwarmPeer>()
  private readonly ctx: SwarmContext
  private readonly probing = new Set<string>()
  private readonly forgotten = new Set<string>()
  private discovering = false
  private lastDiscovery = 0
  private readonly listeners: Array<() => void> = []
  private waiters: Array<() => void> = []

  constructor (ctx: SwarmContext) {
    this.ctx = ctx
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
    if (this.discovering || Date.now() - this.lastDiscovery < this.ctx.rediscoverMs || this.ctx.signal.aborted) return
    this.discovering = true
    this.lastDiscovery = Date.now()
    const signal = AbortSignal.any([this.ctx.signal, AbortSignal.timeout(30_000)])
    void (async () => {
      try {
        for await (const peer of this.ctx.routing.findProviders(this.ctx.digest, { signal })) this.probe(peer)
      } catch (err) {
        if (!this.ctx.signal.aborted) this.ctx.logger.debug(`provider search for ${this.ctx.digest} ended: ${describeError(err)}`)
      } finally {
        this.discovering = false
        this.lastDiscovery = Date.now()
      }
    })()
  }

  /** Asks `peer` HAVE in the background and records the answer. */
  probe (peer: PeerId): void {
    const key = peer.toString()
    if (peer.equals(this.ctx.self) || this.probing.has(key) || this.forgotten.has(key) || this.ctx.isBanned(key)) return
    const known = this.peers.get(key)
    // Complete holders are asked again less often: only for the peers they have seen since (peer exchange).
    if (known !== undefined && Date.now() - known.lastPoll < (known.complete ? 5 : 1) * this.ctx.pollMs) return
    this.probing.add(key)
    void this.ask(peer, key).finally(() => { this.probing.delete(key) })
  }

  /**
   * Polls the given peers: partial holders at most every `pollMs` for their new pieces, complete ones every
   * 5 `pollMs` for peers they have seen since. Peers busy with our requests need no poll: every PIECE answer of
   * a partial holder carries its bitfield.
   */
  poll (keys: Iterable<string>): void {
    for (const key of keys) {
      const peer = this.peers.get(key)
      if (peer !== undefined && this.usable(peer)) this.probe(peer.id)
    }
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

  private async ask (peer: PeerId, key: string): Promise<void> {
    try {
      const answer = await this.ctx.client.have(peer, this.ctx.digest, { signal: this.ctx.signal })
      for (const entry of answer.peers) {
        const named = this.ctx.learn(entry)
        if (named !== undefined) this.probe(named)
      }
      const known = this.peers.get(key)
      if (!answer.have) {
        if (known !== undefined) { this.peers.delete(key); this.changed() }
        return
      }
      const entry: SwarmPeer = known ?? { id: peer, key, complete: false, size: 0, pieceSize: 0, have: undefined, suggest: undefined, version: 0, failures: 0, droppedUntil: 0, lastPoll: 0 }
      entry.complete = answer.complete
      entry.size = answer.size
      entry.pieceSize = answer.pieceSize
      entry.have = answer.verified
      entry.suggest = answer.suggest
      entry.lastPoll = Date.now()
      entry.version++
      this.peers.set(key, entry)
      this.changed()
    } catch (err) {
      if (this.ctx.signal.aborted) return
      if (err instanceof ProtocolViolationError) this.ctx.ban(key, err.message)
      else this.ctx.logger.debug(`HAVE ${this.ctx.digest} to ${key} failed: ${describeError(err)}`)
      if (this.peers.has(key)) this.drop(key, describeError(err))
    }
  }

  private changed (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const fn of [...this.listeners, ...waiters]) fn()
  }
}
