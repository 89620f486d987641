/** Errors of cluster sync. Tests and the CLI match on `name`. */
import { EmergenceError, shorten } from '../util/errors.ts'

/** A document that does not parse, is too large, or whose signature does not verify. */
export class InvalidDocumentError extends EmergenceError {
  constructor (why: string, cause?: unknown) {
    super(`invalid sync document: ${why}`, { code: 'SYNC_DOCUMENT_INVALID', cause })
  }
}

/** A document (or a local change) from a peer that is not among this node's sync publishers. */
export class NotAPublisherError extends EmergenceError {
  readonly publisher: string

  constructor (publisher: string, self = false) {
    super(self
      ? `this node (${publisher}) is not among its syncPublishers: only a publisher may change the desired set`
      : `${publisher} is not among this node's syncPublishers`, { code: 'SYNC_NOT_PUBLISHER' })
    this.publisher = publisher
  }
}

/** `sync add` of something that is neither an image ref nor a Nix store path, or not here to publish. */
export class InvalidSyncItemError extends EmergenceError {
  constructor (item: string, why: string, cause?: unknown) {
    super(`${JSON.stringify(shorten(item))}: ${why}`, { code: 'SYNC_ITEM_INVALID', cause })
  }
}

/** `sync rm` of an item the desired set does not hold. */
export class SyncItemNotFoundError extends EmergenceError {
  constructor (key: string) {
    super(`${JSON.stringify(shorten(key))} is not in the desired set (see \`emergence sync ls\`)`, { code: 'SYNC_ITEM_UNKNOWN' })
  }
}

/** A peer's answer to the sync protocol that breaks it (too many documents, a frame past its limit). */
export class SyncProtocolError extends EmergenceError {
  constructor (peer: string, why: string, cause?: unknown) {
    super(`sync protocol with ${peer}: ${why}`, { code: 'SYNC_PROTOCOL', cause })
  }
}

/** `sync status --wait` gave up before the node was in sync. */
export class SyncWaitTimeoutError extends EmergenceError {
  constructor (seconds: number, why: string) {
    super(`gave up waiting after ${seconds} s: ${why}`, { code: 'SYNC_TIMEOUT' })
  }
}

/** A `syncPublishers` entry that is not a peer id (one whose key the id embeds, as Ed25519 ids do). */
export class InvalidPublisherError extends EmergenceError {
  constructor (entry: string, why: string) {
    super(`syncPublishers: ${JSON.stringify(shorten(entry))} is not a usable peer id: ${why}`, { code: 'CONFIG_INVALID' })
  }
}

/** A synced ref would move an image this node had under that name before sync wrote it (docs/security.md). */
export class SyncRefConflictError extends EmergenceError {
  constructor (ref: string, held: string) {
    super(`${JSON.stringify(shorten(ref))} already names ${held} on this node, not written by sync: sync does not replace it (remove the ref, or \`emergence pull --force\` it)`, { code: 'SYNC_REF_CONFLICT' })
  }
}
