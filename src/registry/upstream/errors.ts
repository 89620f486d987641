/** Errors of pulling from an upstream registry, one class per failure. */
import { EmergenceError } from '../../util/errors.ts'

/** An image URL that is not `docker://[host[:port]/]name[:tag|@digest]`. */
export class InvalidImageUrlError extends EmergenceError {
  constructor (url: string, why: string) {
    super(`invalid image ${JSON.stringify(url.slice(0, 200))}: ${why}`, { code: 'REFERENCE_INVALID' })
  }
}

/** The registry refused our credentials, or wants credentials we do not have. */
export class UpstreamAuthError extends EmergenceError {
  constructor (host: string, why: string) {
    super(`${host}: authentication failed: ${why}`, { code: 'UNAUTHORIZED' })
  }
}

/** The registry answered an error status (its OCI error code and message when it gave them). */
export class UpstreamResponseError extends EmergenceError {
  readonly status: number

  constructor (host: string, what: string, status: number, detail: string) {
    super(`${host}: ${what}: HTTP ${status}${detail !== '' ? ` ${detail}` : ''}`, { code: status === 404 ? 'NOT_FOUND' : 'UPSTREAM_ERROR' })
    this.status = status
  }
}

/** The registry could not be reached at all. */
export class UpstreamUnreachableError extends EmergenceError {
  constructor (host: string, cause: unknown) {
    super(`cannot reach registry ${host}${cause instanceof Error ? `: ${cause.message}` : ''}`, { code: 'UPSTREAM_UNREACHABLE', cause })
  }
}

/** What the registry sent is not what was asked for (a manifest whose digest differs, a schema 1 manifest). */
export class UpstreamContentError extends EmergenceError {
  constructor (host: string, why: string) {
    super(`${host}: ${why}`, { code: 'MANIFEST_INVALID' })
  }
}
