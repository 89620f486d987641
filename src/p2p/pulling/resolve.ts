/**
 * Resolving a ref to a descriptor from peers (docs/protocol.md §4.4). A digest names its content, so a digest
 * ref needs nobody's word; a tag is a claim. Every candidate is asked at once and the answers are grouped by
 * the descriptor they name.
 *
 * - `resolveAgreed` (image tags): the candidates are the peers the operator trusts (puller.ts picks them), and
 *   every one that knows the tag must name the same descriptor. Trusted peers that disagree are an error naming
 *   each claim, never a vote: two peers could otherwise outvote the honest one.
 * - `resolveFromPeers` (Nix path records, which carry their own signatures and hashes): the descriptor most
 *   peers name, ties to the earliest answer, with the dissenters for the caller to check one by one.
 */
import type { PeerId } from '@libp2p/interface'
import type { Descriptor } from '../../oci/types.ts'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'
import type { ExchangeClient } from '../protocol/client.ts'
import { RefNotResolvedError, TagConflictError } from '../errors.ts'

export interface ResolveContext {
  client: Pick<ExchangeClient, 'resolve'>
  /** The peers whose answers count. */
  candidates: PeerId[]
  timeoutMs: number
  signal?: AbortSignal
  logger: Logger
}

export interface Resolution {
  descriptor: Descriptor
  /** Peers that gave this answer, in the order they answered. */
  peers: PeerId[]
  /** Peers that gave another answer (always empty from `resolveAgreed`). */
  dissenters: PeerId[]
}

interface Claim { descriptor: Descriptor, peers: PeerId[], first: number }

/** Asks every candidate; returns the claims in the order their first supporter answered. */
async function askAll (ref: string, ctx: ResolveContext): Promise<Claim[]> {
  if (ctx.candidates.length === 0) throw new RefNotResolvedError(ref, 'no trusted peer is connected')
  const timeout = AbortSignal.timeout(ctx.timeoutMs)
  const signal = ctx.signal !== undefined ? AbortSignal.any([ctx.signal, timeout]) : timeout
  const claims = new Map<string, Claim>()
  const failures: string[] = []
  let answered = 0
  await Promise.all(ctx.candidates.map(async peer => {
    try {
      const descriptor = await ctx.client.resolve(peer, ref, { signal })
      if (descriptor === undefined) {
        failures.push(`${peer.toString()}: not found`)
        return
      }
      const key = `${descriptor.digest} ${descriptor.size} ${descriptor.mediaType}`
      const claim = claims.get(key) ?? { descriptor, peers: [], first: answered }
      answered++
      claim.peers.push(peer)
      claims.set(key, claim)
    } catch (err) {
      failures.push(`${peer.toString()}: ${describeError(err)}`)
    }
  }))
  ctx.signal?.throwIfAborted()
  if (claims.size === 0) throw new RefNotResolvedError(ref, failures.length > 0 ? failures.slice(0, 5).join('; ') : 'no answer')
  return [...claims.values()].sort((a, b) => a.first - b.first)
}

/** The one descriptor every candidate that knows `ref` names; TagConflictError when they differ. */
export async function resolveAgreed (ref: string, ctx: ResolveContext): Promise<Resolution> {
  const claims = await askAll(ref, ctx)
  const [agreed] = claims
  if (agreed === undefined || claims.length > 1) {
    throw new TagConflictError(ref, claims.map(c => ({ digest: c.descriptor.digest, peers: c.peers.map(String) })))
  }
  return { descriptor: agreed.descriptor, peers: agreed.peers, dissenters: [] }
}

/** The descriptor most candidates name (ties: the earliest answer), and who said otherwise. */
export async function resolveFromPeers (ref: string, ctx: ResolveContext): Promise<Resolution> {
  const ranked = (await askAll(ref, ctx)).sort((a, b) => b.peers.length - a.peers.length || a.first - b.first)
  const best = ranked[0] as Claim
  const dissenters = ranked.slice(1).flatMap(g => g.peers)
  if (dissenters.length > 0) ctx.logger.warn(`peers disagree about ${ref}: ${ranked.map(g => `${g.descriptor.digest} (${g.peers.length})`).join(', ')}`)
  return { descriptor: best.descriptor, peers: best.peers, dissenters }
}
