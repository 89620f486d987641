/**
 * Routing: who holds a blob (docs/protocol.md §5).
 *
 * The contract:
 * - **Answers are hints, never trust.** A provider record only says where to ask; every byte is still checked by
 *   the puller, and a peer that lies is banned there.
 * - **Two sources**: the Kademlia DHT (`DhtRouting`, provider records re-announced every `DEFAULT_REANNOUNCE_MS`,
 *   since records do not survive a restart) and peer exchange among connected peers (`PeerExchangeRouting`),
 *   which finds providers on a small cluster without waiting for the DHT. `CombinedRouting` asks all at once,
 *   `FallbackRouting` asks the second only when the first names nobody within a grace period.
 * - **Announcing is cheap for bursts** (`DeferredAnnouncer`): blobs fetched in a batch are announced once the batch
 *   is over, one at a time, so a closure pull never pays for DHT lookups.
 */
export { digestToCid, MemoryRouting, MemoryRoutingTable, CombinedRouting, FallbackRouting, merge, type Routing } from './routing.ts'
export { DhtRouting, DEFAULT_REANNOUNCE_MS, type DhtRoutingInit } from './dht-routing.ts'
export { PeerExchangeRouting, type PexRoutingInit } from './pex-routing.ts'
export { DeferredAnnouncer } from './deferred-announcer.ts'
export { CountedRouting } from './counted-routing.ts'
