/**
 * Resolving `name:tag` to a descriptor from peers (docs/protocol.md §4.4). A digest names its content, so a
 * digest ref needs nobody's word; a tag is a claim, accepted only from trusted peers: the configured
 * trusted-peers list, or, when that list is empty, any connected peer (all of them passed the allow-list at
 * connection time). Every candidate is asked at once; the descriptor most of them answer wins, ties going to
 * the earliest answer. The digest it names is then verified like any other.
 */
import type { PeerId } from '@libp2p/interface'
import type { Descriptor } from '../oci/types.ts'
import { describeError } from '../util/errors.ts'
import type { Logger } from '../util/logger.ts'
import type { ExchangeClient } from './client.ts'
import { RefNotResolvedError } from './errors.ts'

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
  /** Peers that gave another answer. */
  dissenters: PeerId[]
}

export async function resolveFromPeers (ref: string, ctx: ResolveContext): Promise<Resolution> {
  if (ctx.candidates.length === 0) throw new RefNotResolvedError(ref, 'no trusted peer is connected')
  const timeout = AbortSignal.timeout(ctx.timeoutMs)
  const signal = ctx.signal !== undefined ? AbortSignal.any([ctx.signal, timeout]) : timeout
  const answers: Array<{ peer: PeerId, descriptor: Descriptor }> = []
  const failures: string[] = []
  await Promise.all(ctx.candidates.map(async peer => {
    try {
      const descriptor = await ctx.client.resolve(peer, ref, { signal })
      if (descriptor !== undefined) answers.push({ peer, descriptor })
      else failures.push(`${peer.toString()}: not found`)
    } catch (err) {
      failures.push(`${peer.toString()}: ${describeError(err)}`)
    }
  }))
  ctx.signal?.throwIfAborted()
  const groups = new Map<string, { descriptor: Descriptor, peers: PeerId[], first: number }>()
  answers.forEach(({ peer, descriptor }, at) => {
    const key = `${descriptor.digest} ${descriptor.size} ${descriptor.mediaType}`
    const group = groups.get(key) ?? { descriptor, peers: [], first: at }
    group.peers.push(peer)
    groups.set(key, group)
  })
  const ranked = [...groups.values()].sort((a, b) => b.peers.length - a.peers.length || a.first - b.first)
  const best = ranked[0]
  if (best === undefined) throw new RefNotResolvedError(ref, failures.length > 0 ? failures.slice(0, 5).join('; ') : 'no answer')
  const dissenters = ranked.slice(1).flatMap(g => g.peers)
  if (dissenters.length > 0) ctx.logger.warn(`peers disagree about ${ref}: ${ranked.map(g => `${g.descriptor.digest} (${g.peers.length})`).join(', ')}`)
  return { descriptor: best.descriptor, peers: best.peers, dissenters }
}
