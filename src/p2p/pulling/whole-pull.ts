/**
 * A blob that fits in one piece (a manifest, a config, a small layer) is fetched whole, into memory: its one
 * piece is checked against the digest itself (`impliedPieceList`), so there is no list to gather, no partial
 * file, no piece state to save, and nothing to serve before it is complete. This takes the round trips and
 * file syncs of a partial blob off the start of every image pull (the manifest is fetched before anything
 * else can be). The piece's hash is the blob's digest, so `store.blobs.write` is given it and hashes nothing again.
 */
import type { Digest } from '../../oci/digest.ts'
import type { Lease } from '../../store/leases.ts'
import type { Store } from '../../store/store.ts'
import type { ExchangeClient, PieceData } from '../protocol/client.ts'
import type { TransferStats } from '../stats.ts'
import { NoProvidersError } from '../errors.ts'
import { penalise } from './failures.ts'
import { checkPiece } from './recheck.ts'
import { hashChunks, pieceMatches, type PieceList } from '../pieces/piece-list.ts'
import type { PullConfig } from './pull-state.ts'
import type { Swarm } from './swarm.ts'

export interface WholePullContext {
  digest: Digest
  swarm: Swarm
  client: Pick<ExchangeClient, 'getPiece' | 'distrustPlaintext'>
  /** Counts the blob verified or rejected (the metrics). */
  stats?: Pick<TransferStats, 'pieceVerified' | 'pieceRejected'>
  store: Store
  cfg: PullConfig
  signal: AbortSignal
  ban: (peer: string, reason: string) => void
}

/** Fetches the blob from one holder after another until one serves it right; returns that holder. */
export async function pullWhole (ctx: WholePullContext, list: PieceList, lease: Lease | undefined): Promise<string> {
  const { swarm, digest, signal } = ctx
  const piece = { digest, size: list.size, pieceSize: list.pieceSize, index: 0 }
  let lastHeard = Date.now()
  while (true) {
    signal.throwIfAborted()
    const holders = [...swarm.peers.values()].filter(p => swarm.usable(p) && p.size === list.size &&
      (p.complete || (p.pieceSize === list.pieceSize && p.have?.has(0) === true)))
    const peer = holders[Math.floor(Math.random() * holders.length)]
    if (peer === undefined) {
      if (Date.now() - lastHeard > ctx.cfg.noProvidersTimeoutMs) throw new NoProvidersError(digest, `no peer could provide it for ${ctx.cfg.noProvidersTimeoutMs} ms`)
      swarm.discover()
      await swarm.waitForChange(ctx.cfg.pollMs, signal)
      continue
    }
    lastHeard = Date.now()
    try {
      const got = await ctx.client.getPiece(peer.id, piece, { signal })
      // The piece is the blob: its hash, checked here, is the blob's digest, so the store need not hash it again.
      const matches = (d: PieceData): boolean => pieceMatches(list, 0, d.data, d.sha256 ??= hashChunks(d.data))
      // Off a plaintext lane, a bad blob is fetched again over an authenticated path before anyone is blamed.
      const good = await checkPiece(ctx.client, peer.id, piece, got, matches, signal, () => ctx.stats?.pieceRejected()).catch(err => { got.release(); throw err })
      if (good === undefined) {
        got.release()
        ctx.ban(peer.key, 'served a blob that fails its digest')
        continue
      }
      try {
        await ctx.store.blobs.write(digest, [...good.data], { size: list.size, sha256: Buffer.from(good.sha256 as Uint8Array).toString('hex'), ...(lease !== undefined ? { lease } : {}) })
        ctx.stats?.pieceVerified()
      } finally {
        good.release()
      }
      return peer.key
    } catch (err) {
      signal.throwIfAborted()
      penalise({ swarm, ban: ctx.ban, exclude: key => { swarm.drop(key, 'cuts the blob at another piece size') } }, peer, 0, err)
    }
  }
}
