/**
 * The trust rule of plaintext lanes (docs/protocol.md §9.5, docs/security.md): a piece that fails its hash after
 * it came over a plaintext lane proves nothing about the peer, since anyone on the path may have changed it. So
 * before the peer is blamed, the same piece is asked of it again over an authenticated path (a libp2p stream;
 * TLS lanes and streams prove the peer). Good there: the path lied, the plaintext lane to that peer is closed for
 * good, and the good copy is used. Bad there too: the peer itself serves bad bytes, and the caller blames it as
 * for any bad piece. A piece that came over an authenticated path is not fetched again.
 */
import type { PeerId } from '@libp2p/interface'
import type { ExchangeClient, PieceData, PieceRef } from '../protocol/client.ts'
import { PieceDeferredError } from '../errors.ts'

type RecheckClient = Pick<ExchangeClient, 'getPiece' | 'distrustPlaintext'>

/**
 * `got` when it passes `matches`; else (after `onRejected`) the same piece from the same peer over an
 * authenticated path when `got` came over a plaintext lane and that copy passes (`got` is then released); else
 * undefined: the peer served bad bytes. A failure of the second request is thrown (nobody is blamed for it).
 */
export async function checkPiece (client: RecheckClient, peer: PeerId, piece: PieceRef, got: PieceData,
  matches: (data: PieceData) => boolean, signal: AbortSignal, onRejected: () => void = () => {}): Promise<PieceData | undefined> {
  if (matches(got)) return got
  onRejected()
  if (got.authenticated) return undefined
  const ask = async (): Promise<PieceData> => await client.getPiece(peer, { ...piece, index: got.index }, { signal, authenticated: true })
  // A super-seeding holder defers a piece that went out lately, once per requester: asked again, it sends it (§4.3).
  const again = await ask().catch(async err => { if (err instanceof PieceDeferredError) return await ask(); throw err })
  if (again.index !== got.index || !matches(again)) {
    again.release()
    return undefined
  }
  client.distrustPlaintext(peer, `piece ${got.index} failed its hash there and matched over an authenticated path`)
  got.release()
  return again
}
