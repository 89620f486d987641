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
 * The parts, each a folder whose `index.ts` states its contract: `node/` (the libp2p host and identity),
 * `protocol/` (the control protocol's frames, limits and requesting client), `pieces/` (cutting and checking),
 * `serving/` (answering peers), `pulling/` (fetching from many peers), `routing/` (who holds what), `lane/` (the
 * data lane). `Exchange` (exchange.ts) joins serving, the client and lanes; `P2P` (service.ts) joins everything.
 */
export * from './constants.ts'
export * from './errors.ts'
export * from './pieces/index.ts'
export * from './protocol/index.ts'
export * from './node/index.ts'
export * from './serving/index.ts'
export * from './routing/index.ts'
export * from './pulling/index.ts'
export { TransferStats, type TransferCounters } from './stats.ts'
export { Exchange, type ExchangeInit, type ExchangeComponents, type ExchangeNode } from './exchange.ts'
export { Lanes, type LaneInit } from './lane/index.ts'
export { P2P, type P2PInit } from './service.ts'
