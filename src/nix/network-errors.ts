/**
 * Errors of Nix over the network (docs/nix.md): path records and closure records from peers, and pulls.
 * One class per failure, matched by `name`.
 */
import { EmergenceError } from '../util/errors.ts'

/** A path record or closure record is malformed, too large, inconsistent, or not for the path asked. */
export class RecordError extends EmergenceError {
  constructor (why: string, cause?: unknown) {
    super(`invalid Nix record: ${why}`, { code: 'NIX_RECORD_INVALID', cause })
  }
}

/** No peer answered for the record of a store path (nobody shares it, or no trusted peer is connected). */
export class PathNotSharedError extends EmergenceError {
  readonly path: string

  constructor (path: string, cause?: unknown) {
    super(`no peer shares ${path}`, { code: 'NIX_PATH_NOT_SHARED', cause })
    this.path = path
  }
}

/** The node has no Nix store configured or Nix is not usable for a network operation. */
export class NixUnavailableError extends EmergenceError {
  constructor (why: string, cause?: unknown) {
    super(`Nix is not available: ${why}`, { code: 'NIX_UNAVAILABLE', cause })
  }
}
