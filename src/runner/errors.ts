/** Errors of the runner: unpacking layers, building bundles, driving runc. Tests and the CLI match on `name`. */
import { EmergenceError, MAX_QUOTED_LENGTH, shorten } from '../util/errors.ts'

/** No `runc` executable on PATH (or at the configured path). */
export class RuncNotFoundError extends EmergenceError {
  constructor (binary: string) {
    super(`runc not found: ${JSON.stringify(binary)} is not an executable on PATH; install runc (Debian: apt-get install runc)`, { code: 'RUNC_NOT_FOUND' })
  }
}

const RUNC_COMMANDS = new Set(['run', 'create', 'start', 'state', 'list', 'kill', 'delete', 'exec', 'pause', 'resume', 'ps', 'events', 'update', 'spec'])

/** runc itself failed (not the container's process): bad bundle, missing container, kernel refusal... */
export class RuncExitError extends EmergenceError {
  readonly args: string[]
  readonly exitCode: number | null
  readonly stderr: string

  constructor (args: string[], exitCode: number | null, stderr: string) {
    const detail = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 1000)
    const command = args.find(a => RUNC_COMMANDS.has(a)) ?? ''
    super(`runc ${command} failed (exit ${String(exitCode)})${detail !== '' ? `: ${detail}` : ''}`, { code: 'RUNC_FAILED' })
    this.args = args
    this.exitCode = exitCode
    this.stderr = stderr
  }
}

/**
 * The image's config names another OS or CPU architecture than this host's
 * (docs/formats.md "Manifests, indexes and configs").
 */
export class PlatformMismatchError extends EmergenceError {
  readonly image: string
  readonly host: string

  constructor (image: string, host: string) {
    super(`the image is built for ${image}, this host is ${host}`, { code: 'PLATFORM_MISMATCH' })
    this.image = image
    this.host = host
  }
}

/** The process's first argument does not resolve to an executable inside the container (PATH searched as runc does). */
export class EntrypointNotFoundError extends EmergenceError {
  readonly executable: string

  constructor (executable: string, why: string) {
    super(`entrypoint ${JSON.stringify(executable)} not found in the container: ${why}`, { code: 'ENTRYPOINT_NOT_FOUND' })
    this.executable = executable
  }
}

/** Neither the image (Entrypoint, Cmd) nor the caller gave a command to run. */
export class NoCommandError extends EmergenceError {
  constructor () {
    super('no command to run: the image has no Entrypoint or Cmd and none was given', { code: 'NO_COMMAND' })
  }
}

/** A layer's compressed bytes do not match the manifest's descriptor (digest or size). The rootfs is discarded. */
export class LayerDigestMismatchError extends EmergenceError {
  readonly expected: string
  readonly actual: string

  constructor (expected: string, actual: string) {
    super(`layer content does not match its descriptor: expected ${expected}, got ${actual}`, { code: 'DIGEST_INVALID' })
    this.expected = expected
    this.actual = actual
  }
}

/** A layer's uncompressed tar does not hash to the config's `rootfs.diff_ids` entry. The rootfs is discarded. */
export class DiffIdMismatchError extends EmergenceError {
  readonly layer: string
  readonly expected: string
  readonly actual: string

  constructor (layer: string, expected: string, actual: string) {
    super(`layer ${layer} uncompressed does not match its diff_id: expected ${expected}, got ${actual}`, { code: 'DIGEST_INVALID' })
    this.layer = layer
    this.expected = expected
    this.actual = actual
  }
}

/** A tar entry the unpacker refuses: a bare `.wh.`, a non-directory root, an unsupported type, a broken archive. */
export class InvalidLayerError extends EmergenceError {
  readonly entry: string

  constructor (entry: string, why: string, cause?: unknown) {
    super(`invalid layer entry ${JSON.stringify(shorten(entry))}: ${why}`, { code: 'LAYER_INVALID', cause })
    this.entry = entry
  }
}

/** A media type that is not a filesystem layer runc could use. */
export class UnsupportedLayerError extends EmergenceError {
  constructor (mediaType: string) {
    super(`unsupported layer media type ${JSON.stringify(mediaType)}`, { code: 'LAYER_UNSUPPORTED' })
  }
}

/** The image's `User` names a user or group that the rootfs's /etc/passwd or /etc/group does not have. */
export class UserNotFoundError extends EmergenceError {
  constructor (spec: string, why: string) {
    super(`cannot resolve user ${JSON.stringify(spec)}: ${why}`, { code: 'USER_NOT_FOUND' })
  }
}

/** No container record or runc container with this id. */
export class ContainerNotFoundError extends EmergenceError {
  readonly id: string

  constructor (id: string) {
    super(`no container ${JSON.stringify(id)}`, { code: 'CONTAINER_UNKNOWN' })
    this.id = id
  }
}

/** A container id, store path or bundle target that is malformed or already taken. */
export class InvalidRunRequestError extends EmergenceError {
  constructor (message: string) {
    super(message, { code: 'RUN_INVALID' })
  }
}

/**
 * A system error with its message shortened: Node's messages quote the whole path, which for a hostile name is
 * kilobytes, and the CLI prints the cause chain on one line. Code, syscall and errno are kept.
 */
function shortCause (cause: unknown): unknown {
  if (!(cause instanceof Error) || cause.message.length <= MAX_QUOTED_LENGTH) return cause
  const { code, syscall, errno } = cause as NodeJS.ErrnoException
  return Object.assign(new Error(shorten(cause.message)), { name: cause.name, code, syscall, errno })
}

/** Unpacking an entry failed for a reason outside the layer (permissions, I/O...); `cause` has the detail. */
export class UnpackError extends EmergenceError {
  readonly entry: string

  constructor (entry: string, cause: unknown) {
    super(`cannot unpack ${JSON.stringify(shorten(entry))}`, { code: 'UNPACK_FAILED', cause: shortCause(cause) })
    this.entry = entry
  }
}

/**
 * An entry's path is refused before anything is created for it: longer than PATH_MAX on the host (the rootfs
 * path included), or more directories deep than the unpacker's depth limit.
 */
export class EntryPathError extends EmergenceError {
  readonly entry: string

  constructor (entry: string, why: string) {
    super(`refusing layer entry ${JSON.stringify(shorten(entry))}: ${why}`, { code: 'LAYER_PATH_REFUSED' })
    this.entry = entry
  }
}

/** The image's layers unpack to more bytes than the limit (a decompression bomb, or a limit set too low). */
export class UnpackLimitError extends EmergenceError {
  readonly limit: number

  constructor (limit: number) {
    super(`the image unpacks to more than ${limit} bytes, the unpack limit (maxUnpackedBytes); refusing it`, { code: 'UNPACK_TOO_LARGE' })
    this.limit = limit
  }
}

/** Unpacking would leave the filesystem with less free space than the reserve (or the disk is full). */
export class InsufficientSpaceError extends EmergenceError {
  readonly free: number
  readonly reserve: number

  constructor (path: string, free: number, reserve: number, cause?: unknown) {
    super(`not enough free space to unpack into ${JSON.stringify(shorten(path))}: ${free} bytes free, ${reserve} kept in reserve (minFreeBytes)`,
      { code: 'NO_SPACE', cause })
    this.free = free
    this.reserve = reserve
  }
}

/** mount(8) or umount(8) of a container's overlayfs view failed (or its options would not fit). */
export class OverlayMountError extends EmergenceError {
  readonly target: string

  constructor (target: string, why: string, cause?: unknown) {
    super(`cannot mount the overlay at ${JSON.stringify(shorten(target))}: ${why.slice(0, 500)}`, { code: 'OVERLAY_FAILED', cause })
    this.target = target
  }
}
