/** Errors of the content-addressed store. Each leaves the store as it was. */
import { EmergenceError } from '../util/errors.ts'

export class BlobNotFoundError extends EmergenceError {
  readonly digest: string

  constructor (digest: string) {
    super(`blob ${digest} is not in the store`, { code: 'BLOB_UNKNOWN' })
    this.digest = digest
  }
}

/** The bytes received hash to another digest than the one expected (nothing was stored). */
export class DigestMismatchError extends EmergenceError {
  readonly expected: string
  readonly actual: string

  constructor (expected: string, actual: string) {
    super(`content does not match its digest: expected ${expected}, got ${actual}`, { code: 'DIGEST_INVALID' })
    this.expected = expected
    this.actual = actual
  }
}

/** The bytes received are more or fewer than the descriptor's size (nothing was stored). */
export class SizeMismatchError extends EmergenceError {
  readonly digest: string
  readonly expected: number
  readonly actual: number

  constructor (digest: string, expected: number, actual: number) {
    super(`blob ${digest} has the wrong size: expected ${expected} bytes, got ${actual}${actual > expected ? ' or more' : ''}`, { code: 'SIZE_INVALID' })
    this.digest = digest
    this.expected = expected
    this.actual = actual
  }
}

export class RefNotFoundError extends EmergenceError {
  readonly ref: string

  constructor (ref: string) {
    super(`no image ${ref} in the store`, { code: 'MANIFEST_UNKNOWN' })
    this.ref = ref
  }
}

/** A byte range outside the blob (distribution-spec: 416 Range Not Satisfiable). */
export class InvalidRangeError extends EmergenceError {
  constructor (start: number, end: number, size: number) {
    super(`range ${start}-${end} is outside a blob of ${size} bytes`, { code: 'RANGE_INVALID' })
  }
}

/** The store directory exists but is not an OCI image layout this version understands. */
export class NotALayoutError extends EmergenceError {
  constructor (dir: string, why: string) {
    super(`${dir} is not an OCI image layout: ${why}`, { code: 'LAYOUT_INVALID' })
  }
}
