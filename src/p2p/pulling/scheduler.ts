/**
 * Which piece to ask a peer for next (docs/protocol.md §7 "Choosing pieces"). Rarest first: among the pieces
 * we lack, nobody is fetching yet, and the peer has, take one held by the fewest known peers, ties broken at
 * random so that concurrent downloaders spread over different pieces and can trade them. A complete holder
 * (the seed) is therefore asked first for what nobody else has. Endgame: once every missing piece is in flight,
 * a free peer may fetch a piece another peer has been fetching for a while (up to `endgameDuplicates` at once);
 * the first to arrive wins and the others are cancelled. Pure bookkeeping: no I/O, so it is unit-tested on its own.
 */
import { Bitfield } from '../pieces/bitfield.ts'

export interface SchedulerInit {
  count: number
  /** Pieces already verified (a resumed pull). */
  done?: Bitfield
  /** Requests allowed at once for one piece in the endgame. @default 2 */
  endgameDuplicates?: number
  random?: () => number
}

interface PeerEntry {
  all: boolean
  have: Bitfield | undefined
  /** A complete holder's super-seeding hint: the pieces to prefer asking it for. */
  prefer: Bitfield | undefined
  inflight: Set<number>
}

export class PieceScheduler {
  readonly count: number
  readonly done: Bitfield
  private readonly availability: Uint32Array
  /** Availability among partial holders only. */
  private readonly partialAvailability: Uint32Array
  private readonly peers = new Map<string, PeerEntry>()
  private readonly fetching = new Map<number, Set<string>>()
  /** When the oldest request in flight for each piece started. */
  private readonly since = new Map<number, number>()
  private readonly endgameDuplicates: number
  private readonly random: () => number

  constructor (init: SchedulerInit) {
    this.count = init.count
    this.done = init.done?.clone() ?? new Bitfield(init.count)
    if (this.done.length !== this.count) throw new RangeError('done bitfield length does not match the piece count')
    this.availability = new Uint32Array(this.count)
    this.partialAvailability = new Uint32Array(this.count)
    this.endgameDuplicates = init.endgameDuplicates ?? 2
    this.random = init.random ?? Math.random
  }

  get remaining (): number {
    return this.count - this.done.count()
  }

  isComplete (): boolean {
    return this.done.isComplete()
  }

  /** True when every missing piece is already being fetched. */
  isEndgame (): boolean {
    for (let i = 0; i < this.count; i++) if (!this.done.has(i) && !this.fetching.has(i)) return false
    return true
  }

  /**
   * Adds a peer or replaces what it has: `'all'` for a complete holder, else its verified pieces. `prefer` is a
   * complete holder's hint of the pieces it has sent least (upload-counts.ts).
   */
  setPeer (key: string, have: Bitfield | 'all', prefer?: Bitfield): void {
    if (have !== 'all' && have.length !== this.count) throw new RangeError('peer bitfield length does not match the piece count')
    if (prefer !== undefined && prefer.length !== this.count) throw new RangeError('hint bitfield length does not match the piece count')
    const entry = this.peers.get(key) ?? { all: false, have: undefined, prefer: undefined, inflight: new Set<number>() }
    this.account(entry, -1)
    entry.all = have === 'all'
    entry.have = have === 'all' ? undefined : have.clone()
    entry.prefer = prefer?.clone()
    this.account(entry, 1)
    this.peers.set(key, entry)
  }

  /** Forgets a peer; its requests in flight are released. Returns them. */
  removePeer (key: string): number[] {
    const entry = this.peers.get(key)
    if (entry === undefined) return []
    this.account(entry, -1)
    const released = [...entry.inflight]
    for (const index of released) this.release(key, index)
    this.peers.delete(key)
    return released
  }

  peerKeys (): string[] {
    return [...this.peers.keys()]
  }

  /** True when a partial holder is among the peers: there is someone to trade with besides complete holders. */
  hasPartialPeers (): boolean {
    for (const entry of this.peers.values()) if (!entry.all) return true
    return false
  }

  hasPeer (key: string): boolean {
    return this.peers.has(key)
  }

  peerHas (key: string, index: number): boolean {
    const entry = this.peers.get(key)
    return entry !== undefined && (entry.all || entry.have?.has(index) === true)
  }

  inflightOf (key: string): number {
    return this.peers.get(key)?.inflight.size ?? 0
  }

  /**
   * Chooses the next piece for `key` and records it as in flight; undefined when there is nothing to ask it.
   * `strict` spares complete holders (super-seeding): they are not asked for a piece a partial holder already
   * has, nor, outside the endgame, for one they did not hint at (one they already sent to someone else).
   * `inOrder` breaks ties by the lowest index instead of at random: with nobody to trade with, pieces in order
   * let the partial blob hash its prefix as it grows (store/partial.ts) and keep the disk writes sequential.
   */
  assign (key: string, options: { strict?: boolean, endgameAfterMs?: number, inOrder?: boolean, now?: number } = {}): number | undefined {
    const entry = this.peers.get(key)
    if (entry === undefined) return undefined
    const strict = options.strict === true
    // In the endgame, only a request older than `endgameAfterMs` is doubled: a duplicate costs both senders the
    // piece, worth it for a straggler, not for a request about to land.
    const before = (options.now ?? Date.now()) - (options.endgameAfterMs ?? 0)
    const random = options.inOrder === true ? () => 1 : this.random
    const index = this.pick(entry, false, strict, before, random) ?? this.pick(entry, true, strict, before, random)
    if (index === undefined) return undefined
    entry.inflight.add(index)
    const set = this.fetching.get(index) ?? new Set<string>()
    if (set.size === 0) this.since.set(index, options.now ?? Date.now())
    set.add(key)
    this.fetching.set(index, set)
    return index
  }

  /**
   * What a request of `key` for `index` may offer the peer instead (GET `want`, docs/protocol.md §4.3): `index`
   * and every piece we lack that nobody is fetching and `assign` could have chosen (with the same `strict`).
   * The peer knows better than we do what it has and what it sent least.
   */
  want (key: string, index: number, options: { strict?: boolean } = {}): Bitfield {
    const want = new Bitfield(this.count)
    const entry = this.peers.get(key)
    if (entry !== undefined) {
      for (let i = 0; i < this.count; i++) if (!this.fetching.has(i) && this.eligible(entry, i, false, options.strict === true)) want.set(i)
    }
    want.set(index)
    return want
  }

  /** True when `key` is the only one fetching piece `index` (a duplicate request of the endgame is not). */
  soleFetcher (key: string, index: number): boolean {
    const set = this.fetching.get(index)
    return set?.size === 1 && set.has(key)
  }

  /** A request ended without a verified piece: the piece is up for grabs again. */
  release (key: string, index: number): void {
    this.peers.get(key)?.inflight.delete(index)
    const set = this.fetching.get(index)
    set?.delete(key)
    if (set?.size === 0) {
      this.fetching.delete(index)
      this.since.delete(index)
    }
  }

  /** Piece `index` is verified and stored. Returns the other peers still fetching it (to cancel them). */
  complete (key: string, index: number): string[] {
    this.done.set(index)
    const others = [...(this.fetching.get(index) ?? [])].filter(k => k !== key)
    for (const k of [key, ...others]) this.release(k, index)
    return others
  }

  private account (entry: PeerEntry, sign: 1 | -1): void {
    for (let i = 0; i < this.count; i++) {
      if (entry.all) {
        this.availability[i] = (this.availability[i] ?? 0) + sign
      } else if (entry.have?.has(i) === true) {
        this.availability[i] = (this.availability[i] ?? 0) + sign
        this.partialAvailability[i] = (this.partialAvailability[i] ?? 0) + sign
      }
    }
  }

  /** True when piece `i` may be asked of the peer: we lack it, it has it, and `strict` does not spare it. */
  private eligible (entry: PeerEntry, i: number, endgame: boolean, strict: boolean): boolean {
    if (this.done.has(i) || entry.inflight.has(i)) return false
    if (!entry.all && entry.have?.has(i) !== true) return false
    if (strict && entry.all) {
      if ((this.partialAvailability[i] ?? 0) > 0) return false
      if (!endgame && entry.prefer !== undefined && !entry.prefer.has(i)) return false
    }
    return true
  }

  /** Rarest candidate (fewest duplicates first in the endgame), ties at random (reservoir sampling). */
  private pick (entry: PeerEntry, endgame: boolean, strict: boolean, requestedBefore: number, random: () => number): number | undefined {
    let best: number | undefined
    let bestScore = Infinity
    let ties = 0
    for (let i = 0; i < this.count; i++) {
      if (!this.eligible(entry, i, endgame, strict)) continue
      const inFlight = this.fetching.get(i)?.size ?? 0
      if (endgame ? (inFlight === 0 || inFlight >= this.endgameDuplicates || (this.since.get(i) ?? 0) > requestedBefore) : inFlight > 0) continue
      const score = inFlight * this.peers.size + (this.availability[i] ?? 0)
      if (score < bestScore) {
        best = i
        bestScore = score
        ties = 1
      } else if (score === bestScore && random() * ++ties < 1) {
        best = i
      }
    }
    return best
  }
}
