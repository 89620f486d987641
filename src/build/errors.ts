/** Errors of image building. Each is thrown before anything is referenced: a failed build leaves no new ref. */
import { EmergenceError } from '../util/errors.ts'

/** An `--add` source that does not exist or is neither a directory nor a tar file. */
export class BuildSourceError extends EmergenceError {
  constructor (message: string, cause?: unknown) {
    super(message, { code: 'BUILD_SOURCE_INVALID', cause })
  }
}

/** A build option with a value we cannot use (`--env` without `=`, `--chown` not numeric, a bad `-t`). */
export class BuildOptionError extends EmergenceError {
  constructor (message: string) {
    super(message, { code: 'BUILD_OPTION_INVALID' })
  }
}

/** A file of the build input that has a type a layer cannot hold (a socket). */
export class UnsupportedEntryError extends EmergenceError {
  constructor (path: string, what: string) {
    super(`cannot put ${path} into a layer: ${what}`, { code: 'BUILD_ENTRY_UNSUPPORTED' })
  }
}

/** `from-nix` of a store path without an entrypoint we can guess, and none given. */
export class NoEntrypointError extends EmergenceError {
  constructor (path: string) {
    super(`cannot guess the entrypoint of ${path}: give one with --entrypoint`, { code: 'BUILD_NO_ENTRYPOINT' })
  }
}
