/**
 * `node start --detach` and `node stop`: commands that return when the node is ready, or gone, so that scripts
 * never poll. The detached node runs this same CLI in a child process with its output in `<data-dir>/node.log`;
 * it reports readiness over the IPC channel Node gives a child (`process.send`), not by a file or a sleep.
 */
import { spawn } from 'node:child_process'
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeStatus } from '../daemon/daemon.ts'
import { EmergenceError } from '../util/errors.ts'
import { processAlive } from '../util/fs.ts'

/** Set in the detached child's environment: it sends its status to the parent once it answers. */
const READY_ENV = 'EMERGENCE_NOTIFY_READY'

export const NODE_LOG = 'node.log'

export class NodeStartError extends EmergenceError {
  constructor (message: string) {
    super(message, { code: 'NODE_START_FAILED' })
  }
}

export class NodeStopTimeoutError extends EmergenceError {
  constructor (pid: number, seconds: number) {
    super(`the node (pid ${pid}) was asked to stop but still runs after ${seconds}s`, { code: 'NODE_STOP_TIMEOUT' })
  }
}

/** The arguments that started this process, less the flags that ask for detaching. */
function childArgs (argv: string[]): string[] {
  return argv.slice(1).filter(arg => arg !== '--detach' && arg !== '-d')
}

/** The last `emergence: error:` line of the node's log, the one-line reason it stopped. */
async function lastError (log: string): Promise<string> {
  const text = await readFile(log, 'utf8').catch(() => '')
  const lines = text.split('\n').filter(line => line.trim() !== '')
  const error = lines.findLast(line => line.startsWith('emergence: error: '))
  return error?.slice('emergence: error: '.length) ?? lines.at(-1) ?? 'no output'
}

/**
 * Starts `node start` (without `--detach`) in the background and resolves with its status once its control
 * socket answers; rejects with the node's own error line when it exits first, or after `timeoutMs`.
 */
export async function startDetached (dataDir: string, timeoutMs: number): Promise<{ status: NodeStatus, log: string }> {
  await mkdir(dataDir, { recursive: true })
  const log = join(dataDir, NODE_LOG)
  const logFile = await open(log, 'a')
  // The same Node flags as this process (bin/emergence sets the heap's young generation: docs/benchmarks.md).
  const child = spawn(process.execPath, [...process.execArgv, ...childArgs(process.argv)], {
    detached: true,
    stdio: ['ignore', logFile.fd, logFile.fd, 'ipc'],
    env: { ...process.env, [READY_ENV]: '1' }
  })
  await logFile.close()
  try {
    const status = await new Promise<NodeStatus>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGTERM')
        reject(new NodeStartError(`the node did not answer within ${timeoutMs / 1000}s (see ${log})`))
      }, timeoutMs)
      child.once('message', message => { clearTimeout(timer); resolve((message as { ready: NodeStatus }).ready) })
      child.once('exit', () => {
        clearTimeout(timer)
        void lastError(log).then(reason => { reject(new NodeStartError(`the node exited before it was ready: ${reason}`)) })
      })
      child.once('error', err => { clearTimeout(timer); reject(new NodeStartError(`cannot start the node: ${err.message}`)) })
    })
    return { status, log }
  } finally {
    child.removeAllListeners()
    if (child.connected) child.disconnect()
    child.unref()
  }
}

/** In the detached child: tells the parent the node is ready (a no-op in a foreground `node start`). */
export function notifyReady (status: NodeStatus): void {
  if (process.env[READY_ENV] !== '1' || process.send === undefined) return
  delete process.env[READY_ENV]
  process.send({ ready: status }, () => { process.disconnect() })
}

/**
 * Resolves once process `pid` is gone. Linux gives no way to wait on a process that is not our child, so this
 * checks with signal 0 every 20 ms; the wait is bounded by `timeoutMs`.
 */
export async function waitForExit (pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (processAlive(pid)) {
    if (Date.now() > deadline) throw new NodeStopTimeoutError(pid, timeoutMs / 1000)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
