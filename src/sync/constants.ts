/** Topic, protocol id, limits and defaults of cluster sync (docs/protocol.md §10, docs/automata.md "Cluster sync"). */

/** The gossipsub topic every node subscribes to: signed desired-set documents, one per publisher. */
export const SYNC_TOPIC = '/emergence/sync/documents/1'
/** Request/response: the documents a peer holds, for a node that joins or reconnects (gossip carries only new ones). */
export const SYNC_PROTOCOL = '/emergence/sync/1.0.0'
/** Prefix of the bytes a publisher signs: a signature made for anything else never verifies as a document. */
export const SIGNATURE_DOMAIN = 'emergence-sync-document-v1\n'

/** Entries one document may hold (items and removal markers). */
export const MAX_ENTRIES = 1024
/** The largest signed document, on the wire and on disk. */
export const MAX_DOCUMENT_BYTES = 256 * 1024
/** The most documents one answer of the sync protocol carries (publishers are configured, so few). */
export const MAX_DOCUMENTS = 64
/** The request frame of the sync protocol is tiny. */
export const MAX_REQUEST_BYTES = 256

/** How long a peer may take to answer a documents request. */
export const FETCH_TIMEOUT_MS = 10_000
/** Items pulled at once. */
export const DEFAULT_SYNC_CONCURRENCY = 3
/** Retries of a failed pull: 2 s, 4 s, 8 s... at most this. */
export const RETRY_BASE_MS = 2_000
export const RETRY_MAX_MS = 60_000
/** How often held items are checked again (removed by hand, say) and due retries started. */
export const RECHECK_MS = 30_000
