/** Errors of image import and export. */
import { EmergenceError } from '../util/errors.ts'

/** The source is not something we can import (no layout, no archive, nothing tagged). */
export class InvalidImageSourceError extends EmergenceError {
  constructor (message: string, cause?: unknown) {
    super(message, { code: 'SOURCE_INVALID', cause })
  }
}

/** A tar entry whose name or link could land outside the archive's own namespace. */
export class HostileArchiveEntryError extends EmergenceError {
  constructor (name: string, why: string) {
    super(`refusing archive entry ${JSON.stringify(name.slice(0, 200))}: ${why}`, { code: 'ARCHIVE_HOSTILE' })
  }
}

/** A manifest or index names a blob that the source does not hold. */
export class MissingBlobError extends EmergenceError {
  constructor (digest: string, where: string) {
    super(`${where} names blob ${digest}, which the source does not contain`, { code: 'BLOB_UNKNOWN' })
  }
}

/** Export target exists and is not an empty directory or an OCI layout. */
export class ExportTargetError extends EmergenceError {
  constructor (message: string) {
    super(message, { code: 'TARGET_INVALID' })
  }
}
