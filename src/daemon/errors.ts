/** Errors of the daemon and its control API. */
import { EmergenceError, isErrno } from '../util/errors.ts'

export class DaemonNotRunningError extends EmergenceError {
  constructor (socketPath: string) {
    super(`no node is running on ${socketPath}: start one with \`emergence node start\``, { code: 'DAEMON_NOT_RUNNING' })
  }
}

export class DaemonAlreadyRunningError extends EmergenceError {
  constructor (socketPath: string) {
    super(`a node is already running on ${socketPath}`, { code: 'DAEMON_RUNNING' })
  }
}

/** An error the daemon reported for a control request, carried back to the CLI with its code. */
export class ControlRequestError extends EmergenceError {
  constructor (message: string, code: string) {
    super(message, { code })
  }
}

export class InvalidConfigError extends EmergenceError {
  constructor (message: string, cause?: unknown) {
    super(message, { code: 'CONFIG_INVALID', cause })
  }
}

/** A port the configuration names is held by another process (the P2P listen address: ListenAddressInUseError). */
export class PortInUseError extends EmergenceError {
  constructor (what: string, address: string, flag: string, key: string) {
    super(`cannot listen on ${address} for ${what}: the address is in use (another node or program holds the port); set another with ${flag} or ${key}: in config.yaml, or off`, { code: 'ADDRESS_IN_USE' })
  }
}

/** `err` as a PortInUseError when it is EADDRINUSE, else unchanged. */
export function portInUse (err: unknown, what: string, address: string, flag: string, key: string): unknown {
  return isErrno(err, 'EADDRINUSE') ? new PortInUseError(what, address, flag, key) : err
}
