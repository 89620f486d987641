/** Errors of the daemon and its control API. */
import { EmergenceError } from '../util/errors.ts'

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
