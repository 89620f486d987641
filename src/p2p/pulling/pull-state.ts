/**
 * What a pull keeps between runs and across pulls: the piece state saved in the partial blob's state file
 * (store/partial.ts `saveState({ pieces })`), so a restarted pull refetches nothing it verified; the ban list of
 * a puller's session; and the pull's tuning knobs with their defaults.
 */
import { Bitfield } from '../pieces/bitfield.ts'
import { makePieceList, type PieceList } from '../pieces/piece-list.ts'
import { pieceCount } from '../pieces/pieces.ts'
import type { Digest } from '../../oci/digest.ts'
import { DEFAULT_REQUESTS_PER_PEER, HAVE_WAIT_MS } from '../constants.ts'

export interface PullConfig {
  /** GET requests in flight to one peer. @default 4 */
  requestsPerPeer: number
  /** GET requests in flight for one blob. @default 16 */
  maxInflight: number
  /** Requests at once for one piece in the endgame. @default 2 */
  endgameDuplicates: number
  /** Least time between two writes of the piece state file. @default 500 ms */
  stateSaveMs: number
  /** Least time between two HAVE polls of one partial holder that cannot hold a HAVE (1.0). @default 200 ms */
  pollMs: number
  /** How long a partial holder is asked to hold a HAVE until it has a new piece (a long poll). @default 2 s */
  haveWaitMs: number
  /** Partial holders watched at once with such HAVEs; the others are asked every 5 `pollMs`. @default 6 */
  maxWatched: number
  /**
   * How long a pull with nothing in flight waits for the swarm (pieces on their way to other peers) before it
   * asks a complete holder for pieces the holder already sent out. @default 500 ms
   */
  patienceMs: number
  /** Least time between two routing searches while peers are lacking. @default 2 s */
  rediscoverMs: number
  /** Give up when no piece arrived for this long and nobody can provide one. @default 30 s */
  noProvidersTimeoutMs: number
  /** A peer that stalled or vanished this many times is left out of the pull. @default 3 */
  maxFailures: number
  /** Piece lists tried (a list is dropped when the blob fails its digest). @default 6 */
  maxAttempts: number
  /** Peers asked for their piece list at the start, complete holders first. @default 3 */
  listSources: number
}

export const DEFAULT_PULL_CONFIG: PullConfig = {
  requestsPerPeer: DEFAULT_REQUESTS_PER_PEER,
  maxInflight: 16,
  endgameDuplicates: 2,
  stateSaveMs: 500,
  pollMs: 200,
  haveWaitMs: HAVE_WAIT_MS,
  maxWatched: 6,
  patienceMs: 500,
  rediscoverMs: 2_000,
  noProvidersTimeoutMs: 30_000,
  maxFailures: 3,
  maxAttempts: 6,
  listSources: 3
}

/** Peers banned for the session (the puller's lifetime): they served a bad piece, a lying list, or garbage. */
export class BanList {
  private readonly reasons = new Map<string, string>()

  ban (peer: string, reason: string): boolean {
    if (this.reasons.has(peer)) return false
    this.reasons.set(peer, reason)
    return true
  }

  isBanned (peer: string): boolean {
    return this.reasons.has(peer)
  }

  entries (): Record<string, string> {
    return Object.fromEntries(this.reasons)
  }
}

/** The piece state of a partial blob. */
export interface SavedPieces {
  list: PieceList
  verified: Bitfield
  /** Peers that gave the list. */
  supporters: string[]
}

interface SavedJson {
  v: 1
  pieceSize: number
  hashes: string
  verified: string
  supporters: string[]
}

export function serializePieces (saved: SavedPieces): SavedJson {
  return {
    v: 1,
    pieceSize: saved.list.pieceSize,
    hashes: Buffer.from(saved.list.hashes).toString('base64'),
    verified: saved.verified.toBase64(),
    supporters: saved.supporters
  }
}

/** The saved state, or undefined when absent or unusable (the pull then starts over). */
export function parsePieces (value: unknown, digest: Digest, size: number): SavedPieces | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const json = value as Partial<SavedJson>
  if (json.v !== 1 || typeof json.pieceSize !== 'number' || typeof json.hashes !== 'string' || typeof json.verified !== 'string') return undefined
  try {
    const list = makePieceList(digest, size, json.pieceSize, Buffer.from(json.hashes, 'base64'))
    const verified = Bitfield.fromBase64(json.verified, pieceCount(size, json.pieceSize))
    const supporters = Array.isArray(json.supporters) ? json.supporters.filter((p): p is string => typeof p === 'string') : []
    return { list, verified, supporters }
  } catch {
    return undefined
  }
}
