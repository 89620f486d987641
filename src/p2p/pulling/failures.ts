/**
 * What a failed request says about the peer (docs/protocol.md §7 "Failures"), shared by the piece transfer and
 * the one-piece pull: a deferral or a missing piece is news about what the peer holds, BUSY is a pause, a
 * stalled or vanished peer is dropped for a while (swarm.ts), a protocol violation or a bad list gets it
 * banned. Anything else is a local failure (the disk) and is rethrown: it ends the pull.
 */
import { Bitfield } from '../pieces/bitfield.ts'
import { ERROR_CODES } from '../protocol/codec.ts'
import {
  InvalidPieceListError, NotHaveError, PeerErrorResponse, PeerTimeoutError, PeerUnreachableError, PieceDeferredError, ProtocolViolationError,
  TruncatedResponseError
} from '../errors.ts'
import type { Swarm, SwarmPeer } from './swarm.ts'

export interface Penalties {
  swarm: Swarm
  ban: (peer: string, reason: string) => void
  /** The peer cuts the blob at another piece size: leave it out of this transfer. */
  exclude: (peer: string) => void
}

export function penalise (p: Penalties, peer: SwarmPeer, index: number, err: unknown): void {
  const { swarm } = p
  if (err instanceof PieceDeferredError) {
    swarm.updateSuggest(peer.key, err.suggest instanceof Bitfield ? err.suggest : undefined)
  } else if (err instanceof NotHaveError) {
    if (peer.complete || peer.have === undefined) {
      swarm.drop(peer.key, `lacks piece ${index}`)
    } else {
      const have = peer.have.clone()
      have.clear(index)
      swarm.updateHave(peer.key, have)
    }
  } else if (err instanceof PeerErrorResponse) {
    if (err.remoteCode === ERROR_CODES.busy) swarm.pause(peer.key, 250)
    else if (err.remoteCode === ERROR_CODES.pieceSize) p.exclude(peer.key)
    else swarm.drop(peer.key, err.message)
  } else if (err instanceof ProtocolViolationError || err instanceof InvalidPieceListError) {
    p.ban(peer.key, err.message)
  } else if (err instanceof PeerTimeoutError || err instanceof TruncatedResponseError || err instanceof PeerUnreachableError) {
    swarm.drop(peer.key, err.message)
  } else {
    throw err
  }
}
