/**
 * The piece lists one pull has seen, grouped by content. A list cannot be checked on its own (docs/protocol.md
 * §3 "Trust"), so the pull works with the list most peers agree on and keeps the others as
 * alternatives. A piece that fails the current list is blamed on the peer that sent it only when that peer's
 * own list agrees at that piece; otherwise the peer and the list disagree, and the whole-blob digest decides:
 * a committed blob proves its list, so every peer that gave a different one lied; a blob that fails its digest
 * proves its list a lie, so the peers that gave it lied.
 */
import { createHash } from 'node:crypto'
import { PIECE_HASH_LENGTH } from '../constants.ts'
import type { PieceList } from './piece-list.ts'

interface Group {
  key: string
  list: PieceList
  supporters: string[]
  refuted: boolean
}

export class ListBook {
  private readonly groups = new Map<string, Group>()
  private readonly byPeer = new Map<string, Group>()
  private currentKey: string | undefined

  get current (): PieceList | undefined {
    return this.currentKey !== undefined ? this.groups.get(this.currentKey)?.list : undefined
  }

  /** Peers that gave the current list. */
  get supporters (): string[] {
    return this.currentKey !== undefined ? [...(this.groups.get(this.currentKey)?.supporters ?? [])] : []
  }

  hasListOf (peer: string): boolean {
    return this.byPeer.has(peer)
  }

  add (peer: string, list: PieceList): void {
    if (this.byPeer.has(peer)) return
    const key = `${list.pieceSize}:${createHash('sha256').update(list.hashes).digest('hex')}`
    const group = this.groups.get(key) ?? { key, list, supporters: [], refuted: false }
    group.supporters.push(peer)
    this.groups.set(key, group)
    this.byPeer.set(peer, group)
  }

  /** True when the peer's list is the current one. */
  supportsCurrent (peer: string): boolean {
    return this.currentKey !== undefined && this.byPeer.get(peer)?.key === this.currentKey
  }

  /** True when the peer's list has the same hash as the current list for piece `index`. */
  agreesAt (peer: string, index: number): boolean {
    const theirs = this.byPeer.get(peer)?.list
    const ours = this.current
    if (theirs === undefined || ours === undefined || theirs.pieceSize !== ours.pieceSize) return false
    const at = (l: PieceList): Uint8Array => l.hashes.subarray(index * PIECE_HASH_LENGTH, (index + 1) * PIECE_HASH_LENGTH)
    return Buffer.from(at(theirs)).equals(at(ours))
  }

  /**
   * Makes the best list current: not refuted, most supporters that are not banned; ties go to the list a
   * preferred peer (a complete holder) gave, then to the earliest. Returns it, or undefined if none is left.
   */
  choose (isBanned: (peer: string) => boolean, preferred: (peer: string) => boolean = () => false): PieceList | undefined {
    let best: Group | undefined
    let bestScore = -1
    for (const group of this.groups.values()) {
      if (group.refuted) continue
      const live = group.supporters.filter(p => !isBanned(p))
      if (live.length === 0) continue
      const score = live.length * 2 + (live.some(preferred) ? 1 : 0)
      if (score > bestScore) {
        best = group
        bestScore = score
      }
    }
    this.currentKey = best?.key
    return best?.list
  }

  /** True when a list other than the current one is still in the running. */
  hasAlternative (isBanned: (peer: string) => boolean): boolean {
    return [...this.groups.values()].some(g => g.key !== this.currentKey && !g.refuted && g.supporters.some(p => !isBanned(p)))
  }

  /** The current list failed the whole-blob digest: refute it and return the peers that gave it. */
  refuteCurrent (): string[] {
    const group = this.currentKey !== undefined ? this.groups.get(this.currentKey) : undefined
    if (group === undefined) return []
    group.refuted = true
    this.currentKey = undefined
    return [...group.supporters]
  }

  /** Peers whose list cuts the blob the same way but differs from the current one (liars, once it is proven). */
  dissenters (): string[] {
    const current = this.current
    if (current === undefined) return []
    return [...this.byPeer.entries()]
      .filter(([, g]) => g.key !== this.currentKey && g.list.pieceSize === current.pieceSize && g.list.size === current.size)
      .map(([peer]) => peer)
  }
}

/** Pieces verified under `from` that `to` confirms: the same piece size and the same hash. */
export function carryOver (from: PieceList, to: PieceList, verified: Iterable<number>): number[] {
  if (from.pieceSize !== to.pieceSize || from.size !== to.size) return []
  const kept: number[] = []
  for (const i of verified) {
    const a = from.hashes.subarray(i * PIECE_HASH_LENGTH, (i + 1) * PIECE_HASH_LENGTH)
    const b = to.hashes.subarray(i * PIECE_HASH_LENGTH, (i + 1) * PIECE_HASH_LENGTH)
    if (Buffer.from(a).equals(b)) kept.push(i)
  }
  return kept
}
