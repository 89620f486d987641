/** Errors raised while parsing and validating OCI data (image-spec). */
import { EmergenceError } from '../util/errors.ts'

/** A digest string that breaks the digest grammar (docs/formats.md "Digests and descriptors"). */
export class InvalidDigestError extends EmergenceError {
  constructor (digest: string) {
    super(`invalid digest ${JSON.stringify(digest.slice(0, 100))}: expected sha256:<64 lower-case hex> or sha512:<128 lower-case hex>`, { code: 'DIGEST_INVALID' })
  }
}

/** A manifest, index, config or descriptor that is not valid JSON of the expected shape. */
export class InvalidManifestError extends EmergenceError {
  constructor (message: string, cause?: unknown) {
    super(message, { code: 'MANIFEST_INVALID', cause })
  }
}

/** A `name:tag` or `name@digest` reference that breaks the distribution-spec grammar. */
export class InvalidReferenceError extends EmergenceError {
  constructor (reference: string, why: string) {
    super(`invalid reference ${JSON.stringify(reference.slice(0, 300))}: ${why}`, { code: 'NAME_INVALID' })
  }
}

/** An index with no manifest for the requested platform. */
export class NoMatchingPlatformError extends EmergenceError {
  constructor (wanted: string, available: string[]) {
    super(`no manifest for platform ${wanted} (the index has: ${available.length > 0 ? available.join(', ') : 'none'})`, { code: 'MANIFEST_UNKNOWN' })
  }
}
