/**
 * Errors of the data lane, one class per failure; callers and tests match on `name`. A lane that cannot be opened
 * is never fatal: the requester falls back to libp2p streams. Garbage on an open lane is a ProtocolViolationError
 * (../errors.ts), as on a stream, and a lane that ends mid-answer a TruncatedResponseError.
 */
import { EmergenceError } from '../../util/errors.ts'
import { TruncatedResponseError } from '../errors.ts'

/** The peer offers no lane, or its lane could not be reached or set up in time. */
export class LaneUnavailableError extends EmergenceError {
  constructor (peer: string, why: string, cause?: unknown) {
    super(`no data lane to peer ${peer}: ${why}`, { code: 'LANE_UNAVAILABLE', cause })
  }
}

/** The certificate on the lane does not prove the libp2p peer id it had to (another key, or no libp2p extension). */
export class LaneIdentityError extends EmergenceError {
  constructor (expected: string, why: string, cause?: unknown) {
    super(`lane certificate does not prove peer ${expected}: ${why}`, { code: 'LANE_IDENTITY', cause })
  }
}

/** The lane's server refused us (not on its allow-list, a ticket not issued to our peer id, too many lanes). */
export class LaneRefusedError extends EmergenceError {
  constructor (peer: string, why: string) {
    super(`peer ${peer} refused the data lane: ${why.slice(0, 200)}`, { code: 'LANE_REFUSED' })
  }
}

/**
 * The lane closed while this request was in flight. It is a TruncatedResponseError (the peer may have vanished),
 * and the requester retries the request once on a libp2p stream before it counts against the peer.
 */
export class LaneClosedError extends TruncatedResponseError {
  constructor (peer: string, why: string, cause?: unknown) {
    super(`the data lane to ${peer} closed: ${why}`, cause)
  }
}
