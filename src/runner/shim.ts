/**
 * Detached containers that leave their exit code behind. `runc run --detach` returns at once and nobody waits
 * for the container's process, so its exit status is lost. Instead a small shell in its own session runs
 * `runc run` in the foreground (runc then waits for the process and exits with its status: 128 + n for
 * signal n) with the container's stdout and stderr on the log, and writes the status to `<exitFile>` (temp file
 * + rename) when it ends. The caller returns once runc reports the container started, or the shell ended.
 */
import { spawn } from 'node:child_process'
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isErrno } from '../util/errors.ts'
import { randomBytes } from 'node:crypto'
import { pathExists, writeFileAtomic } from '../util/fs.ts'
import { ContainerNotFoundError, RuncExitError } from './errors.ts'
import { checkContainerId, runcErrors, type Runtime } from './runtime.ts'

/**
 * The shell: runs its arguments, writes their exit status to $EMERGENCE_EXIT atomically, and starts them again
 * as the restart policy says, a second later, unless $EMERGENCE_STOP exists (`stop` creates it first) or
 * $EMERGENCE_SHIM no longer holds this shim's token.
 */
const SHIM = [
  'while :; do',
  '"$@"; code=$?',
  'printf "%s\\n" "$code" > "$EMERGENCE_EXIT.tmp" && mv "$EMERGENCE_EXIT.tmp" "$EMERGENCE_EXIT"',
  'case "$EMERGENCE_RESTART" in always) ;; on-failure) [ "$code" -eq 0 ] && break ;; *) break ;; esac',
  'sleep 1',
  // Checked after the pause: a stop that came while the container was down must not see it start again, and
  // a container removed (its token file gone) or started anew under the same id (another token) is not ours.
  '[ -e "$EMERGENCE_STOP" ] && break',
  '[ "$(cat "$EMERGENCE_SHIM" 2>/dev/null)" = "$EMERGENCE_TOKEN" ] || break',
  'done'
].join('\n')
const POLL_MS = 20

/** When a detached container is started again after it exits (Docker's restart policies, without back-off). */
export type RestartPolicy = 'no' | 'on-failure' | 'always'

/**
 * Files beside a detached container's log: its exit code, the stop request its shim obeys, the token of the
 * shim that owns the container, runc's own log.
 */
export function shimFiles (logPath: string): { exit: string, stop: string, token: string, runcLog: string } {
  return { exit: `${logPath}.exit`, stop: `${logPath}.stop`, token: `${logPath}.shim`, runcLog: `${logPath}.runc` }
}

/** The exit code a shim wrote for a container, or undefined while it runs (or for containers started otherwise). */
export async function readExitCode (exitFile: string): Promise<number | undefined> {
  try {
    const code = Number.parseInt((await readFile(exitFile, 'utf8')).trim(), 10)
    return Number.isInteger(code) ? code : undefined
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
}

/**
 * Starts the bundle in the background under a shim, output appended to `logPath`, exit code to `exitFile`.
 * Resolves once the container runs (or already ended); throws RuncExitError when runc could not start it.
 */
export async function runDetachedWithExit (runtime: Runtime, id: string, bundle: string, logPath: string, restart: RestartPolicy = 'no', timeoutMs = 30_000): Promise<void> {
  const binary = await runtime.binary()
  const { exit: exitFile, stop, token: tokenFile, runcLog } = shimFiles(logPath)
  const token = randomBytes(8).toString('hex')
  const args = ['--root', runtime.root, '--log', runcLog, '--log-format', 'json', 'run', '--bundle', bundle, checkContainerId(id)]
  await mkdir(dirname(logPath), { recursive: true })
  for (const file of [exitFile, stop, runcLog]) await rm(file, { force: true })
  await writeFileAtomic(tokenFile, token)
  const log = await open(logPath, 'a', 0o640)
  let ended = false
  try {
    const shim = spawn('/bin/sh', ['-c', SHIM, 'emergence-shim', binary, ...args], {
      stdio: ['ignore', log.fd, log.fd],
      detached: true,
      env: { ...process.env, EMERGENCE_EXIT: exitFile, EMERGENCE_STOP: stop, EMERGENCE_RESTART: restart, EMERGENCE_SHIM: tokenFile, EMERGENCE_TOKEN: token }
    })
    shim.once('exit', () => { ended = true })
    shim.once('error', () => { ended = true })
    shim.unref()
    const deadline = Date.now() + timeoutMs
    // A container that already ended (and may be started again by its policy) has written its exit code.
    while (!ended && !(await pathExists(exitFile)) && !(await started(runtime, id))) {
      if (Date.now() > deadline) throw new RuncExitError(args, null, `the container did not start within ${timeoutMs / 1000}s (see ${logPath})`)
      await sleep(POLL_MS)
    }
    const errors = await runcErrors(runcLog)
    if (errors.length > 0) throw new RuncExitError(args, await readExitCode(exitFile) ?? null, errors.join('\n'))
  } finally {
    await log.close()
  }
}

/** True once runc has the container past `created` (running, or stopped and still known). */
async function started (runtime: Runtime, id: string): Promise<boolean> {
  if (!await pathExists(join(runtime.root, id, 'state.json'))) return false
  try {
    return (await runtime.state(id)).status !== 'created'
  } catch (err) {
    if (err instanceof ContainerNotFoundError) return false
    throw err
  }
}
