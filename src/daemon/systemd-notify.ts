/**
 * Readiness for systemd (`Type=notify`, examples/emergence.service): when `NOTIFY_SOCKET` is set, the node says
 * `READY=1` once its control socket answers. The message is a datagram on a unix socket, which Node cannot send,
 * so `systemd-notify` (there on every host that runs systemd) sends it with `--pid` set to this process: the
 * credentials then name the service's main process even though systemd-notify itself exits at once, so systemd
 * accepts it under the default `NotifyAccess=main` (docs/operations.md "systemd").
 */
import { execFile } from 'node:child_process'
import { describeError } from '../util/errors.ts'
import { createLogger, type Logger } from '../util/logger.ts'

export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET'
const NOTIFY_TIMEOUT_MS = 5_000

/**
 * Sends `READY=1` (with `status` as STATUS=) to systemd. Returns false when no one asked (no NOTIFY_SOCKET) or
 * the message could not be sent (logged: the node runs on, systemd reports the start as timed out).
 */
export async function notifySystemdReady (status: string, options: { env?: NodeJS.ProcessEnv, signal?: AbortSignal, logger?: Logger } = {}): Promise<boolean> {
  const logger = options.logger ?? createLogger('daemon')
  const env = options.env ?? process.env
  if (env[NOTIFY_SOCKET_ENV] === undefined || env[NOTIFY_SOCKET_ENV] === '') return false
  const args = ['--ready', `--status=${status}`, `--pid=${process.pid}`]
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('systemd-notify', args, { env, timeout: NOTIFY_TIMEOUT_MS, ...(options.signal !== undefined ? { signal: options.signal } : {}) }, err => {
        if (err === null) resolve()
        else reject(err)
      })
    })
    return true
  } catch (err) {
    logger.warn(`cannot tell systemd the node is ready (systemd-notify): ${describeError(err)}`)
    return false
  }
}
