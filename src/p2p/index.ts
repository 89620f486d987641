/**
 * P2P: the libp2p node, blob routing, the blob exchange protocol (/emergence/blob/1.0.0, docs/protocol.md)
 * and the puller that fetches blobs and images from every peer that has them, in parallel, trusting nobody but
 * the digest.
 *
 * The daemon creates everything at once with `P2P.create`, announces its store once after start (DHT records do
 * not survive a restart), and keeps routing in step with the store: `blobAdded(digest)` after a blob is written by
 * other means than a pull (an import), `blobRemoved(digest)` after a blob is deleted (GC). Pulled blobs are
 * announced by the puller itself, from their first verified piece on. Pulls in progress should be aborted
 * (their `signal`) before `stop()`.
 *
 * @example
 * ```ts
 * const store = await Store.open(storeRoot(dataDir))
 * const p2p = await P2P.create({
 *   store,
 *   identityDir: join(dataDir, 'p2p'),               // peer.key, created on first start (mode 0600)
 *   listen: ['/ip4/0.0.0.0/tcp/4150'],
 *   bootstrap: ['/ip4/10.0.0.2/tcp/4150/p2p/12D3KooW...'],
 *   allowList: ['12D3KooW...', '12D3KooW...'],       // empty: any peer may connect (a warning at start)
 *   trustedPeers: [],                                // who resolves name:tag (empty: the allow-list; neither: nobody)
 *   mdns: false,
 *   uploadRate: 50e6, downloadRate: 100e6            // bytes/s, optional
 * })
 * await p2p.announceAll()
 * await p2p.dial('/ip4/10.0.0.3/tcp/4150/p2p/12D3KooW...')   // optional: bootstrap and mDNS dial by themselves
 * const result = await p2p.pullImage('library/busybox:1.36', { signal, onProgress: p => draw(p) })   // force: true moves a held ref
 * p2p.exchange.inboundLoad()                         // inbound streams and the request bytes they hold
 * p2p.blobAdded(importedDigest)                      // after an import
 * await p2p.blobRemoved(collectedDigest)             // after GC removed a blob
 * p2p.counters()                                     // bytes served / received per peer
 * p2p.puller.bans.entries()                          // peers banned this session, with the reason
 * await p2p.stop()
 * ```
 *
 * Piece bytes move on a data lane (TLS 1.3 on its own TCP connection, bound to the libp2p peer id; `lane/`,
 * docs/protocol.md §9) when both peers allow it, else on libp2p streams; `exchange: { lanes: { ... } }` sets its
 * port, or turns it off.
 *
 * The parts, for tests and other wiring: `createNode` (node.ts), `Exchange` (serving + `ExchangeClient`),
 * `Routing` with `DhtRouting`, `PeerExchangeRouting`, `MemoryRouting`, `CombinedRouting`, `FallbackRouting`, and `Puller`.
 */
export * from './constants.ts'
export * from './errors.ts'
export { Bitfield } from './bitfield.ts'
export { choosePieceSize, isValidPieceSize, pieceCount, pieceRange, pieceLength } from './pieces.ts'
export { computePieceList, pieceMatches, hashChunks, makePieceList, PieceListStore, type PieceList } from './piece-list.ts'
export { encodeMessage, decodeRequest, decodeResponse, ERROR_CODES, type Request, type Response } from './codec.ts'
export { FramedStream, type FramedStreamInit } from './wire.ts'
export { InboundStreams, type InboundLoad } from './inbound.ts'
export { Semaphore, KeyedSemaphore, TokenBucket } from './limits.ts'
export { TransferStats, type TransferCounters } from './stats.ts'
export { loadOrCreateIdentity } from './identity.ts'
export { createNode, allowListGater, parseTcpAddress, DEFAULT_LISTEN, type NodeInit, type EmergenceNode, type EmergenceServices } from './node.ts'
export { Holdings, type ActiveDownload, type Holding } from './holdings.ts'
export { ExchangeClient, type HaveAnswer, type PieceData, type PieceRef } from './client.ts'
export { Exchange, type ExchangeInit, type ExchangeComponents, type ExchangeNode } from './exchange.ts'
export { Lanes, type LaneInit } from './lane/index.ts'
export { digestToCid, MemoryRouting, MemoryRoutingTable, CombinedRouting, FallbackRouting, type Routing } from './routing.ts'
export { DhtRouting, DEFAULT_REANNOUNCE_MS, type DhtRoutingInit } from './dht-routing.ts'
export { PeerExchangeRouting, type PexRoutingInit } from './pex-routing.ts'
export { PieceScheduler, type SchedulerInit } from './scheduler.ts'
export { BanList, DEFAULT_PULL_CONFIG, type PullConfig } from './pull-state.ts'
export type { BlobPullOptions, BlobPullResult } from './blob-pull.ts'
export { Puller, type PullerInit, type PullerComponents } from './puller.ts'
export type { PullImageOptions, ImagePullResult } from './image-pull.ts'
export { resolveAgreed, resolveFromPeers, type Resolution } from './resolve.ts'
export type { PullProgress } from './progress.ts'
export { P2P, type P2PInit } from './service.ts'
