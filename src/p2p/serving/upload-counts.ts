/**
 * Super-seeding (docs/protocol.md §4.3, DEFER): a holder remembers how often and when it last sent
 * each piece of a blob. A requester that names the pieces it would take instead (GET `want`) gets the one sent
 * least, so the first holder sends each piece out about once before it sends any twice, and the downloaders
 * trade the rest among themselves. For requesters that name one piece only (1.0), it tells them which pieces it
 * has not sent recently (`suggest`) and defers a piece sent recently, once per requester, while fresh ones
 * remain. A hint, never a rule: asked again, the holder sends any piece.
 */
import { Bitfield } from '../pieces/bitfield.ts'

const MAX_BLOBS = 256
/** How long a sent piece counts as "out there" (being traded by whoever got it). */
export const RECENT_MS = 30_000

interface Sent {
  /** When each piece was last sent (ms since the epoch; 0: never). */
  at: Float64Array
  /** How often each piece was sent. */
  times: Uint32Array
}

export class UploadCounts {
  private readonly sent = new Map<string, Sent>()
  /** `digest pieceSize index requester` of deferred requests: each requester is deferred once per piece. */
  private readonly deferred = new Set<string>()
  private readonly recentMs: number

  constructor (recentMs = RECENT_MS) {
    this.recentMs = recentMs
  }

  /**
   * True when piece `index` went out recently while others did not, and `requester` was not deferred on it
   * before: it should fetch it from the peer that got it, and ask this holder for a fresh one.
   */
  defer (digest: string, pieceSize: number, count: number, index: number, requester: string, now = Date.now()): boolean {
    const sent = this.get(digest, pieceSize, count, false)?.at
    if (sent === undefined || index >= sent.length || !this.recent(sent[index], now)) return false
    if (!sent.some(at => !this.recent(at, now))) return false
    const key = `${digest} ${pieceSize} ${index} ${requester}`
    if (this.deferred.has(key)) return false
    if (this.deferred.size >= 65536) this.deferred.clear()
    this.deferred.add(key)
    return true
  }

  /** Records that piece `index` of the blob cut at `pieceSize` (`count` pieces) is being sent. */
  note (digest: string, pieceSize: number, count: number, index: number, now = Date.now()): void {
    const sent = this.get(digest, pieceSize, count, true)
    if (sent === undefined || index >= count) return
    sent.at[index] = now
    sent.times[index] = (sent.times[index] ?? 0) + 1
  }

  /**
   * The piece to send a requester that asked for `index` or any piece in `want` (pieces outside `has`, when
   * given, are not on offer): the one sent least, then longest ago; `index` wins a tie. Undefined when nothing
   * is on offer. Records the send, in the same synchronous step, so concurrent requests see each other.
   */
  pick (digest: string, pieceSize: number, count: number, index: number, want: Bitfield, has?: Bitfield, now = Date.now()): number | undefined {
    const sent = this.get(digest, pieceSize, count, true) as Sent
    const offered = (i: number): boolean => i < count && (has === undefined || has.has(i))
    let best = offered(index) ? index : undefined
    for (let i = 0; i < count; i++) {
      if (i === index || !want.has(i) || !offered(i)) continue
      if (best === undefined || (sent.times[i] ?? 0) < (sent.times[best] ?? 0) ||
        ((sent.times[i] ?? 0) === (sent.times[best] ?? 0) && (sent.at[i] ?? 0) < (sent.at[best] ?? 0))) best = i
    }
    if (best !== undefined) this.note(digest, pieceSize, count, best, now)
    return best
  }

  /** The pieces not sent recently (possibly none), or undefined when none was: then there is nothing to prefer. */
  suggest (digest: string, pieceSize: number, count: number, now = Date.now()): Bitfield | undefined {
    const sent = this.get(digest, pieceSize, count, false)?.at
    if (sent === undefined || !sent.some(at => this.recent(at, now))) return undefined
    const fresh = new Bitfield(count)
    sent.forEach((at, i) => { if (!this.recent(at, now)) fresh.set(i) })
    return fresh
  }

  private recent (at: number | undefined, now: number): boolean {
    return at !== undefined && at > 0 && now - at < this.recentMs
  }

  private get (digest: string, pieceSize: number, count: number, create: boolean): Sent | undefined {
    const key = `${digest} ${pieceSize}`
    let sent = this.sent.get(key)
    if (sent !== undefined && sent.at.length !== count) sent = undefined
    if (sent === undefined) {
      if (!create) return undefined
      sent = { at: new Float64Array(count), times: new Uint32Array(count) }
    }
    // Most recently used last, so the oldest blob is the one dropped.
    this.sent.delete(key)
    this.sent.set(key, sent)
    if (this.sent.size > MAX_BLOBS) this.sent.delete(this.sent.keys().next().value as string)
    return sent
  }
}
