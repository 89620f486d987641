/**
 * Errors of the Nix subsystem, one class per failure, matched by `name`. NAR errors are thrown by the reader
 * (docs/formats.md "NAR": readers refuse anything else); a restore that throws one leaves nothing written.
 */
import { EmergenceError } from '../util/errors.ts'

/** A string is not valid nix32 (wrong alphabet, wrong length, or bits set beyond the hash). */
export class Nix32Error extends EmergenceError {
  constructor (value: string, why: string) {
    super(`invalid nix32 string '${value.slice(0, 80)}': ${why}`, { code: 'NIX32_INVALID' })
  }
}

/** A hash string is not `sha256:<nix32|hex>` or SRI `sha256-<base64>`. */
export class NixHashError extends EmergenceError {
  constructor (value: string, why: string, options: { cause?: unknown } = {}) {
    super(`invalid Nix hash '${value.slice(0, 100)}': ${why}`, { code: 'NIX_HASH_INVALID', cause: options.cause })
  }
}

/** A store path or store path name breaks the rules of docs/formats.md "Nix store paths and nix32". */
export class StorePathError extends EmergenceError {
  readonly path: string

  constructor (path: string, why: string) {
    super(`invalid store path '${path.slice(0, 300)}': ${why}`, { code: 'STORE_PATH_INVALID' })
    this.path = path
  }
}

/** Base class of every malformed-NAR error; `offset` is the byte position in the NAR where it was found. */
export class NarError extends EmergenceError {
  readonly offset: number

  constructor (message: string, offset: number, code: string) {
    super(`invalid NAR at byte ${offset}: ${message}`, { code })
    this.offset = offset
  }
}

/** The stream does not start with `nix-archive-1`. */
export class NarMagicError extends NarError {
  constructor (offset: number) { super('not a Nix archive (wrong magic)', offset, 'NAR_MAGIC') }
}

/** The stream ended before the archive did. */
export class NarTruncatedError extends NarError {
  constructor (offset: number) { super('stream ends before the archive does', offset, 'NAR_TRUNCATED') }
}

/** The zero padding after a string is not zero. */
export class NarPaddingError extends NarError {
  constructor (offset: number) { super('non-zero padding', offset, 'NAR_PADDING') }
}

/** A length field is larger than the limit for its string, than a safe integer, or than the declared NAR size. */
export class NarLengthError extends NarError {
  constructor (length: bigint | number, limit: number, offset: number) {
    super(`length ${length} exceeds the limit of ${limit}`, offset, 'NAR_LENGTH')
  }
}

/** An unexpected token, too deep nesting, or bytes after the archive's end. */
export class NarSyntaxError extends NarError {
  constructor (message: string, offset: number) { super(message, offset, 'NAR_SYNTAX') }
}

/** A directory entry name is empty, `.`, `..`, or contains `/` or NUL. */
export class NarEntryNameError extends NarError {
  constructor (offset: number) { super('forbidden directory entry name', offset, 'NAR_ENTRY_NAME') }
}

/** Directory entries are not in ascending byte order. */
export class NarUnsortedError extends NarError {
  constructor (offset: number) { super('directory entries are not sorted', offset, 'NAR_UNSORTED') }
}

/** The same directory entry name appears twice. */
export class NarDuplicateEntryError extends NarError {
  constructor (offset: number) { super('duplicate directory entry', offset, 'NAR_DUPLICATE_ENTRY') }
}

/** An entry would be written below a symlink (refused even though nothing is followed through it). */
export class NarSymlinkParentError extends NarError {
  constructor (offset: number) { super('entry below a symlink', offset, 'NAR_SYMLINK_PARENT') }
}

/** A restore target already exists; restores never overwrite. */
export class NarTargetExistsError extends EmergenceError {
  constructor (target: string) { super(`restore target ${target} already exists`, { code: 'NAR_TARGET_EXISTS' }) }
}

/** The NAR writer met a file type a NAR cannot hold (socket, device, fifo). */
export class NarUnsupportedFileError extends EmergenceError {
  constructor (path: string) { super(`${path} is not a regular file, directory or symlink`, { code: 'NAR_UNSUPPORTED_FILE' }) }
}

/** A file changed size while the NAR writer read it. */
export class NarFileChangedError extends EmergenceError {
  constructor (path: string) { super(`${path} changed while it was being archived`, { code: 'NAR_FILE_CHANGED' }) }
}

/** The NAR received hashes to another narHash than the path info says. */
export class NarHashMismatchError extends EmergenceError {
  readonly expected: string
  readonly actual: string

  constructor (path: string, expected: string, actual: string) {
    super(`NAR of ${path} does not match its narHash: expected ${expected}, got ${actual}`, { code: 'NAR_HASH_MISMATCH' })
    this.expected = expected
    this.actual = actual
  }
}

/** The NAR received has another size than the path info says. */
export class NarSizeMismatchError extends EmergenceError {
  constructor (path: string, expected: number, actual: number) {
    super(`NAR of ${path} has ${actual} bytes${actual > expected ? ' or more' : ''}, expected ${expected}`, { code: 'NAR_SIZE_MISMATCH' })
  }
}

/** A .narinfo document is malformed or misses a required field. */
export class NarInfoError extends EmergenceError {
  constructor (why: string) { super(`invalid narinfo: ${why}`, { code: 'NARINFO_INVALID' }) }
}

/** A signing or public key string is not `name:base64` of the right length. */
export class NixKeyError extends EmergenceError {
  constructor (why: string) { super(`invalid Nix key: ${why}`, { code: 'NIX_KEY_INVALID' }) }
}

/** No signature on a path info verifies against the trusted keys. */
export class SignatureError extends EmergenceError {
  readonly path: string

  constructor (path: string) {
    super(`no valid signature from a trusted key on ${path}`, { code: 'NIX_SIGNATURE_INVALID' })
    this.path = path
  }
}

/** A Nix command exited non-zero or could not be started; `stderr` holds the tool's own message. */
export class NixCommandError extends EmergenceError {
  readonly command: string
  readonly args: readonly string[]
  readonly exitCode: number | null
  readonly stderr: string

  constructor (command: string, args: readonly string[], exitCode: number | null, stderr: string, cause?: unknown) {
    const detail = stderr.trim().split('\n').filter(l => !l.startsWith('warning:')).slice(-3).join(' ')
    super(`${[command, ...args.slice(0, 3)].join(' ')}${args.length > 3 ? ' ...' : ''} failed (${exitCode === null ? 'not run' : `exit ${exitCode}`})${detail === '' ? '' : `: ${detail}`}`,
      { code: 'NIX_COMMAND_FAILED', cause })
    this.command = command
    this.args = args
    this.exitCode = exitCode
    this.stderr = stderr
  }
}

/** A store path is not valid (not present and registered) in the store asked. */
export class PathNotValidError extends EmergenceError {
  readonly path: string

  constructor (path: string) {
    super(`${path} is not valid in the Nix store`, { code: 'NIX_PATH_NOT_VALID' })
    this.path = path
  }
}

/** An import misses a reference that is neither in the import nor already valid in the target store. */
export class MissingReferenceError extends EmergenceError {
  constructor (path: string, reference: string) {
    super(`cannot import ${path}: its reference ${reference} is neither imported nor valid`, { code: 'NIX_MISSING_REFERENCE' })
  }
}

/** Path infos refer to each other in a cycle, which no real store can hold. */
export class ReferenceCycleError extends EmergenceError {
  constructor (trail: readonly string[]) {
    super(`reference cycle: ${trail.join(' -> ')}`, { code: 'NIX_REFERENCE_CYCLE' })
  }
}
