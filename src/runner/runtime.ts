/**
 * The `Runtime` contract (docs/architecture.md) over the runc CLI: argument arrays, never a shell; runc's state under its
 * own `--root`; runc's own errors read from its JSON log (`--log --log-format json`) so that a failure of runc
 * (RuncExitError) is told apart from the container's exit code.
 *
 * Detached runs use `runc run --detach` with the container's stdio on a log file: with `terminal: false` runc
 * hands its own stdio to the container process, so no console socket is needed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:fs'
import { access, mkdir, open, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { z } from 'zod'
import { tempName } from '../util/fs.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { ContainerNotFoundError, InvalidRunRequestError, RuncExitError, RuncNotFoundError } from './errors.ts'

export interface RuntimeInit {
  /** runc's state directory (`runc --root`). */
  root: string
  /** The runc binary: a name searched in PATH, or a path. Default `runc`. */
  runc?: string
  /** The PATH to search. Default: this process's PATH. */
  path?: string
  logger?: Logger
  /** Time limit of state, list, kill, delete and of starting a detached container. Default 30 s. */
  timeoutMs?: number
}

export interface RunIo {
  /** Default 'ignore' (/dev/null). */
  stdin?: 'inherit' | 'ignore'
  /** Where the container's output goes; default: this process's stdout / stderr. */
  stdout?: Writable
  stderr?: Writable
  /** Aborting kills the container (SIGKILL); `run` then resolves with its exit code. */
  signal?: AbortSignal
}

const stateSchema = z.object({
  id: z.string(),
  pid: z.number().int(),
  status: z.string(),
  bundle: z.string(),
  created: z.string(),
  annotations: z.record(z.string(), z.string()).nullish()
})
export type ContainerState = z.infer<typeof stateSchema>

/** runc accepts ids of `[\w+-.]+`; we also bound the length. */
const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_+.-]{0,127}$/
const DEFAULT_TIMEOUT_MS = 30_000
const MAX_OUTPUT = 1024 * 1024
const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }

export function checkContainerId (id: string): string {
  if (!ID_PATTERN.test(id)) throw new InvalidRunRequestError(`invalid container id ${JSON.stringify(id)}: use letters, digits, _ + . - (at most 128)`)
  return id
}

/** Finds an executable like execvp: a name with a slash as is, else the first match in PATH. */
export async function findInPath (name: string, path: string): Promise<string | undefined> {
  const candidates = name.includes('/') ? [name] : path.split(':').filter(d => d !== '').map(d => join(d, name))
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK)
      if ((await stat(candidate)).isFile()) return candidate
    } catch { /* not this one */ }
  }
  return undefined
}

interface Exit { code: number | null, signal: NodeJS.Signals | null }

async function waitExit (child: ChildProcess): Promise<Exit> {
  return await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => { resolve({ code, signal }) })
  })
}

/** The messages runc logged at level error or fatal (one JSON object per line). */
export async function runcErrors (logFile: string): Promise<string[]> {
  let text: string
  try {
    text = (await readFile(logFile, 'utf8')).slice(-MAX_OUTPUT)
  } catch {
    return []
  }
  return text.split('\n').flatMap(line => {
    try {
      const entry = JSON.parse(line) as { level?: string, msg?: string }
      return entry.level === 'error' || entry.level === 'fatal' ? [entry.msg ?? ''] : []
    } catch {
      return []
    }
  })
}

export class Runtime {
  readonly root: string
  private readonly runc: string
  private readonly path: string
  private readonly logger: Logger
  private readonly timeoutMs: number
  private binaryPath: string | undefined

  constructor (init: RuntimeInit) {
    this.root = init.root
    this.runc = init.runc ?? 'runc'
    this.path = init.path ?? process.env.PATH ?? ''
    this.logger = init.logger ?? silentLogger
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** The runc executable; throws RuncNotFoundError. */
  async binary (): Promise<string> {
    this.binaryPath ??= await findInPath(this.runc, this.path)
    if (this.binaryPath === undefined) throw new RuncNotFoundError(this.runc)
    return this.binaryPath
  }

  /** Runs the bundle in the foreground and returns the container's exit code (128 + n for signal n). */
  async run (id: string, bundle: string, io: RunIo = {}): Promise<number> {
    const binary = await this.binary()
    const logFile = tempName(tmpdir(), `emergence-runc-${checkContainerId(id)}`)
    const args = ['--root', this.root, '--log', logFile, '--log-format', 'json', 'run', '--bundle', bundle, id]
    const child = spawn(binary, args, { stdio: [io.stdin ?? 'ignore', io.stdout !== undefined ? 'pipe' : 'inherit', io.stderr !== undefined ? 'pipe' : 'inherit'] })
    if (io.stdout !== undefined) child.stdout?.pipe(io.stdout, { end: false })
    if (io.stderr !== undefined) child.stderr?.pipe(io.stderr, { end: false })
    const onAbort = (): void => { this.kill(id, 'SIGKILL').catch(err => { this.logger.warn(`cannot kill ${id}`, err) }) }
    io.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      this.logger.debug(`runc ${args.join(' ')}`)
      const exit = await waitExit(child)
      const errors = await runcErrors(logFile)
      if (errors.length > 0) throw new RuncExitError(args, exit.code, errors.join('\n'))
      return exit.code ?? 128 + (SIGNALS[exit.signal ?? ''] ?? 0)
    } finally {
      io.signal?.removeEventListener('abort', onAbort)
      await rm(logFile, { force: true })
    }
  }

  /** Starts the bundle in the background with its stdout and stderr appended to `logPath`. */
  async runDetached (id: string, bundle: string, logPath: string): Promise<void> {
    const binary = await this.binary()
    const logFile = tempName(tmpdir(), `emergence-runc-${checkContainerId(id)}`)
    const args = ['--root', this.root, '--log', logFile, '--log-format', 'json', 'run', '--detach', '--bundle', bundle, id]
    await mkdir(dirname(logPath), { recursive: true })
    const log = await open(logPath, 'a', 0o640)
    try {
      const child = spawn(binary, args, { stdio: ['ignore', log.fd, log.fd], timeout: this.timeoutMs, killSignal: 'SIGKILL' })
      const exit = await waitExit(child)
      if (exit.code !== 0) {
        const errors = await runcErrors(logFile)
        throw new RuncExitError(args, exit.code, errors.length > 0 ? errors.join('\n') : `see ${logPath}`)
      }
    } finally {
      await log.close()
      await rm(logFile, { force: true })
    }
  }

  /** runc's view of one container; throws ContainerNotFoundError. */
  async state (id: string): Promise<ContainerState> {
    const { stdout } = await this.control(['state', checkContainerId(id)], id)
    return stateSchema.parse(JSON.parse(stdout))
  }

  /** Every container under this runtime's root. */
  async list (): Promise<ContainerState[]> {
    const { stdout } = await this.control(['list', '--format', 'json'])
    const parsed: unknown = JSON.parse(stdout)
    return parsed === null ? [] : z.array(stateSchema).parse(parsed)
  }

  /** Sends `signal` to the container's init process (`all`: to every process). False when it is not running. */
  async kill (id: string, signal: string = 'SIGTERM', options: { all?: boolean } = {}): Promise<boolean> {
    try {
      await this.control(['kill', ...(options.all === true ? ['--all'] : []), checkContainerId(id), signal], id)
      return true
    } catch (err) {
      if (err instanceof RuncExitError && /not running|process already finished/.test(err.stderr)) return false
      throw err
    }
  }

  /** Deletes the container's runc state (`force`: kill it first if it runs). */
  async delete (id: string, options: { force?: boolean } = {}): Promise<void> {
    await this.control(['delete', ...(options.force === true ? ['--force'] : []), checkContainerId(id)], id)
  }

  /** Runs a short runc command; maps "does not exist" to ContainerNotFoundError and other failures to RuncExitError. */
  private async control (command: string[], id?: string): Promise<{ stdout: string, stderr: string }> {
    const binary = await this.binary()
    const args = ['--root', this.root, ...command]
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: this.timeoutMs, killSignal: 'SIGKILL' })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => { if (stdout.length < MAX_OUTPUT) stdout += chunk.toString('utf8') })
    child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < MAX_OUTPUT) stderr += chunk.toString('utf8') })
    const exit = await waitExit(child)
    if (exit.code === 0) return { stdout, stderr }
    if (id !== undefined && stderr.includes('does not exist')) throw new ContainerNotFoundError(id)
    throw new RuncExitError(args, exit.code, stderr)
  }
}
