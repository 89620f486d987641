/**
 * A blob fetched whole, in one GET, from peers the caller believes hold it complete (docs/protocol.md §7
 * "Batches"): the peers that answered RESOLVE for a Nix closure record hold every NAR it lists. A complete holder
 * serves any valid piece size (§4.3), so piece 0 cut at the smallest piece size that holds the whole blob is the
 * blob. Its only piece hash is the digest itself: there is no HAVE, no piece list, no partial file and no routing
 * lookup, and a peer cannot lie about a list it never gives. The bytes are hashed once as they arrive (a data
 * lane) or once here, compared with the digest, and handed to the store with that hash, so they are not hashed
 * again. A peer whose bytes fail the digest is banned like any peer that serves a bad piece; a peer that does not
 * have the blob, is busy or fails is passed over, and when none serves it the caller falls back to a full pull.
 */
import type { PeerId } from '@libp2p/interface'
import { digestAlgorithm, digestHex, type Digest } from '../../oci/digest.ts'
import type { Lease } from '../../store/leases.ts'
import type { Store } from '../../store/store.ts'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'
import type { ExchangeClient, PieceData } from '../protocol/client.ts'
import { checkPiece } from './recheck.ts'
import type { TransferStats } from '../stats.ts'
import { MAX_PIECE_SIZE, MIN_PIECE_SIZE } from '../constants.ts'
import { ProtocolViolationError } from '../errors.ts'
import { hashChunks } from '../pieces/piece-list.ts'

export interface DirectPullContext {
  client: Pick<ExchangeClient, 'getPiece' | 'distrustPlaintext'>
  /** Counts the blob verified or rejected (the metrics). */
  stats?: Pick<TransferStats, 'pieceVerified' | 'pieceRejected'>
  store: Store
  isBanned: (peer: string) => boolean
  ban: (peer: string, reason: string) => void
  logger: Logger
}

export interface DirectPullRequest {
  digest: Digest
  size: number
  /** Each asked at most once, starting at one the digest picks, so that a batch spreads over them. */
  providers: readonly PeerId[]
  signal: AbortSignal
  lease?: Lease
}

/** The piece size at which a blob of `size` bytes is one piece, or undefined when it is too large for one GET. */
export function wholePieceSize (size: number): number | undefined {
  if (size <= 0 || size > MAX_PIECE_SIZE) return undefined
  let pieceSize = MIN_PIECE_SIZE
  while (pieceSize < size) pieceSize *= 2
  return pieceSize
}

/** True when `pullDirect` can fetch this blob (sha256, one GET's worth of bytes). */
export function canPullDirect (digest: Digest, size: number): boolean {
  return digestAlgorithm(digest) === 'sha256' && wholePieceSize(size) !== undefined
}

/**
 * Fetches the blob from the first provider that serves bytes matching its digest and writes it into the store;
 * returns that provider, or undefined when none did (the blob is then not in the store).
 */
export async function pullDirect (ctx: DirectPullContext, request: DirectPullRequest): Promise<string | undefined> {
  const { digest, size, signal } = request
  const pieceSize = wholePieceSize(size)
  if (pieceSize === undefined || digestAlgorithm(digest) !== 'sha256') return undefined
  const expected = digestHex(digest)
  const first = Number.parseInt(expected.slice(0, 8), 16) % Math.max(1, request.providers.length)
  for (const peer of [...request.providers.slice(first), ...request.providers.slice(0, first)]) {
    const key = peer.toString()
    if (ctx.isBanned(key)) continue
    signal.throwIfAborted()
    let got
    try {
      got = await ctx.client.getPiece(peer, { digest, size, pieceSize, index: 0 }, { signal })
    } catch (err) {
      signal.throwIfAborted()
      if (err instanceof ProtocolViolationError) ctx.ban(key, `broke the protocol on a whole-blob GET: ${err.message}`)
      else ctx.logger.debug(`whole-blob GET of ${digest} from ${key} failed: ${describeError(err)}`)
      continue
    }
    const hexOf = (d: PieceData): string => Buffer.from(d.sha256 ??= hashChunks(d.data)).toString('hex')
    let good: PieceData | undefined
    try {
      // Off a plaintext lane, a bad blob is fetched again over an authenticated path before anyone is blamed.
      good = await checkPiece(ctx.client, peer, { digest, size, pieceSize, index: 0 }, got, d => d.index === 0 && hexOf(d) === expected, signal, () => ctx.stats?.pieceRejected())
    } catch (err) {
      got.release()
      signal.throwIfAborted()
      ctx.logger.debug(`whole-blob GET of ${digest} from ${key} again over an authenticated path failed: ${describeError(err)}`)
      continue
    }
    if (good === undefined) {
      got.release()
      ctx.ban(key, 'served a blob that fails its digest')
      continue
    }
    try {
      const { lease } = request
      await ctx.store.blobs.write(digest, [...good.data], { size, sha256: expected, signal, ...(lease !== undefined ? { lease } : {}) })
      ctx.stats?.pieceVerified()
    } finally {
      good.release()
    }
    return key
  }
  return undefined
}
