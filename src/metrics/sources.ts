/**
 * What the metrics read from the node, as narrow views of its subsystems, so that this folder depends on no
 * subsystem's classes and a test can hand in its own.
 */
import type { TransferStats } from '../p2p/stats.ts'

/** How far the node trusts a peer (docs/security.md): resolves tags, may connect, or neither named. */
export type PeerClass = 'trusted' | 'allowed' | 'other'

export interface MetricSources {
  /** The exchange's counters: bytes per peer and path, pieces, provider lookups. */
  stats: Pick<TransferStats, 'byPath' | 'pieces' | 'onLookup'>
  puller: { bans: { entries: () => Record<string, string> }, inFlight: number }
  exchange: { piecesInFlight: () => { uploads: number, downloads: number } }
  connectedPeers: () => number
  peerClass: (peer: string) => PeerClass
  /** Bytes and count of the store's blobs (read from disk). */
  storeUsage: () => Promise<{ bytes: number, blobs: number }>
  /** Image refs in the store. */
  images: () => Promise<number>
  /** Containers per state. */
  containerStates: () => Promise<Map<string, number>>
}

/**
 * Trusted: the peers that resolve tags (`trustedPeers`, else the allow-list, as the puller decides); allowed: the
 * rest of the allow-list; other: everyone else (only without an allow-list can they connect at all).
 */
export function peerClassifier (trustedPeers: readonly string[], allowList: readonly string[]): (peer: string) => PeerClass {
  const trusted = new Set(trustedPeers.length > 0 ? trustedPeers : allowList)
  const allowed = new Set(allowList)
  return peer => trusted.has(peer) ? 'trusted' : allowed.has(peer) ? 'allowed' : 'other'
}
