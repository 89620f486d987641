/**
 * Cluster sync (docs/automata.md "Cluster sync" and "Bootstrap", docs/protocol.md §10): a desired set of image
 * refs and Nix closures, shared by every node of a cluster, which each node makes itself hold.
 *
 * The contract:
 * - **Who may change the set**: the configured publishers (`syncPublishers`; default this node and its trusted
 *   peers). Each signs one document with its libp2p key (document.ts); documents from anyone else, with a bad
 *   signature, or no newer than the one held are refused or ignored, and change nothing.
 * - **Convergence**: the set is a function of the latest document of each publisher (last writer wins per item),
 *   so nodes holding the same documents agree; documents spread on a gossipsub topic and, for a node that
 *   joins or reconnects, over `/emergence/sync/1.0.0` from any connected peer (protocol.ts).
 * - **Holding it**: `Reconciler` pulls what the node lacks through the normal pull, a few items at a time, with
 *   retries and backoff; `SyncService.protectedDigests` keeps the set from automatic GC.
 *
 * @example
 * ```ts
 * const sync = await SyncService.create({ node, privateKey, dataDir, publishers, fetcher: nodeFetcher(side), publishable: (r, s) => publishableItem(side, r, s) })
 * await sync.start()
 * await sync.add('app/web:1.0')
 * sync.status().inSync
 * ```
 *
 * Errors (matched by `name`): InvalidDocumentError, NotAPublisherError, InvalidSyncItemError,
 * SyncItemNotFoundError, SyncProtocolError, SyncWaitTimeoutError, InvalidPublisherError.
 */
export * from './errors.ts'
export * from './constants.ts'
export { parseItemArgument, itemKey, type SyncItem, type ItemRequest } from './item.ts'
export { signDocument, decodeSigned, encodeSigned, desiredSet, nextDocument, winners, type SyncDocument, type SyncEntry, type SignedDocument, type DesiredItem } from './document.ts'
export { DocumentBook, type DocumentBookInit, type OfferResult } from './document-book.ts'
export { fetchDocuments, serveDocuments } from './protocol.ts'
export { Reconciler, type ReconcilerInit, type SyncFetcher, type ItemStatus, type ItemState } from './reconciler.ts'
export { nodeFetcher, publishableItem, itemDigests, syncPublishers, startNodeSync, type NodeSide, type NodeSyncInit } from './node-side.ts'
export { SyncService, type SyncServiceInit, type SyncStatus, type SyncNode, type Refusal } from './service.ts'
