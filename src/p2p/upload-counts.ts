/**
 * Super-seeding hints (design.md "Swarming without a tracker"): a complete holder remembers when it last sent
 * each piece of a blob and tells requesters which pieces it has not sent recently. Downloaders ask it for those
 * and trade the rest among themselves, so the first holder sends each piece out about once instead of once per
 * downloader. A piece sent recently is deferred once per requester while fresh ones remain. A hint, never a
 * rule: asked again, the holder sends any piece.
 */
import { Bitfield } from './bitfield.ts'

const MAX_BLOBS = 256
/** How long a sent piece counts as "out there" (being traded by whoever got it). */
export const RECENT_MS = 30_000

export class UploadCounts {
  private readonly sent = new Map<string, Float64Array>()
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
    const sent = this.get(digest, pieceSize, count, false)
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
    if (sent !== undefined && index < sent.length) sent[index] = now
  }

  /** The pieces not sent recently (possibly none), or undefined when none was: then there is nothing to prefer. */
  suggest (digest: string, pieceSize: number, count: number, now = Date.now()): Bitfield | undefined {
    const sent = this.get(digest, pieceSize, count, false)
    if (sent === undefined || !sent.some(at => this.recent(at, now))) return undefined
    const fresh = new Bitfield(count)
    sent.forEach((at, i) => { if (!this.recent(at, now)) fresh.set(i) })
    return fresh
  }

  private recent (at: number | undefined, now: number): boolean {
    return at !== undefined && at > 0 && now - at < this.recentMs
  }

  private get (digest: string, pieceSize: number, count: number, create: boolean): Float64Array | undefined {
    const key = `${digest} ${pieceSize}`
    let sent = this.sent.get(key)
    if (sent !== undefined && sent.length !== count) sent = undefined
    if (sent === undefined) {
      if (!create) return undefined
      sent = new Float64Array(count)
    }
    // Most recently used last, so the oldest blob is the one dropped.
    this.sent.delete(key)
    this.sent.set(key, sent)
    if (this.sent.size > MAX_BLOBS) this.sent.delete(this.sent.keys().next().value as string)
    return sent
  }
}
