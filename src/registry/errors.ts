/**
 * Errors of the registry mirror, one class per failure, each carrying the distribution-spec error code
 * (docs/registry.md "What it answers") and the HTTP status it answers with. `toRegistryError` maps the store's and
 * the puller's errors onto them, so that every error path renders through one function (http.ts `sendError`).
 */
import { EmergenceError } from '../util/errors.ts'

export class RegistryError extends EmergenceError {
  readonly status: number
  readonly detail: unknown

  constructor (message: string, options: { code: string, status: number, detail?: unknown, cause?: unknown }) {
    super(message, { code: options.code, cause: options.cause })
    this.status = options.status
    this.detail = options.detail
  }
}

/** The name is not a repository name of distribution-spec's grammar. */
export class NameInvalidError extends RegistryError {
  constructor (name: string) {
    super(`invalid repository name ${JSON.stringify(name.slice(0, 200))}`, { code: 'NAME_INVALID', status: 400 })
  }
}

/** Neither this node nor a trusted peer knows the repository. */
export class NameUnknownError extends RegistryError {
  constructor (name: string) {
    super(`repository ${name} is not known to this node`, { code: 'NAME_UNKNOWN', status: 404 })
  }
}

/** Neither this node nor a (trusted, for tags) peer has the manifest. */
export class ManifestUnknownError extends RegistryError {
  constructor (reference: string, why?: string, cause?: unknown) {
    super(`manifest ${reference} is not available${why !== undefined ? `: ${why}` : ''}`, { code: 'MANIFEST_UNKNOWN', status: 404, cause })
  }
}

/** Neither this node nor any peer has the blob. */
export class BlobUnknownError extends RegistryError {
  constructor (digest: string, why?: string, cause?: unknown) {
    super(`blob ${digest} is not available${why !== undefined ? `: ${why}` : ''}`, { code: 'BLOB_UNKNOWN', status: 404, cause })
  }
}

/** A digest in the path that is not `sha256:<64 hex>` or `sha512:<128 hex>`. */
export class DigestInvalidError extends RegistryError {
  constructor (digest: string) {
    super(`invalid digest ${JSON.stringify(digest.slice(0, 200))}`, { code: 'DIGEST_INVALID', status: 400 })
  }
}

/** A `Range` header outside the blob (RFC 9110 §15.5.17: 416 with `Content-Range: bytes *\/size`). */
export class RangeNotSatisfiableError extends RegistryError {
  readonly size: number

  constructor (range: string, size: number) {
    super(`range ${JSON.stringify(range.slice(0, 100))} is outside a blob of ${size} bytes`, { code: 'RANGE_INVALID', status: 416 })
    this.size = size
  }
}

/** A push, a delete, or any route the read-only mirror does not serve. */
export class UnsupportedError extends RegistryError {
  constructor (what: string) {
    super(`${what} is not supported: this is a read-only pull mirror`, { code: 'UNSUPPORTED', status: 405 })
  }
}

/** A path outside the distribution API. */
export class RouteNotFoundError extends RegistryError {
  constructor (path: string) {
    super(`no such endpoint ${JSON.stringify(path.slice(0, 200))}`, { code: 'NAME_UNKNOWN', status: 404 })
  }
}

/** The wire form of any error: registry errors keep theirs, anything else is an internal error. */
export function toRegistryError (err: unknown): RegistryError {
  if (err instanceof RegistryError) return err
  return new RegistryError(err instanceof Error ? err.message : String(err), { code: 'UNKNOWN', status: 500, cause: err })
}

/** `containerd configure` was given a bad host or URL, or cannot read what is there. */
export class InvalidHostsConfigError extends EmergenceError {
  constructor (message: string, cause?: unknown) {
    super(message, { code: 'CONFIG_INVALID', cause })
  }
}

/** A `registryUpstreams` entry that is not `host[:port]` or `http(s)://host[:port]`. */
export class InvalidUpstreamError extends EmergenceError {
  constructor (value: string) {
    super(`invalid upstream registry ${JSON.stringify(value.slice(0, 200))}: use host[:port] or http(s)://host[:port]`, { code: 'CONFIG_INVALID' })
  }
}

/** A pull through from an upstream found the tag or a blob neither at a peer nor at the upstream. */
export class PullThroughError extends EmergenceError {
  constructor (what: string, registry: string, why?: string, cause?: unknown) {
    super(`${what} is at no peer and not at ${registry}${why !== undefined ? `: ${why}` : ''}`, { code: 'MANIFEST_UNKNOWN', cause })
  }
}
