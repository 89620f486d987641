/**
 * Running the Nix command-line tools: argument arrays (never a shell), stdin fed from an async iterable with
 * back-pressure, stdout collected up to a limit or streamed, stderr kept (its tail) for the typed error, and an
 * AbortSignal plus a timeout that kill the child.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import type { Writable } from 'node:stream'
import { NixCommandError } from './errors.ts'

export interface RunOptions {
  /**
   * Bytes to write to the child's stdin; if this iterable throws, the child is killed and the error rethrown.
   * Each chunk is written out before the next is asked for, so a source may reuse one buffer for every chunk.
   */
  stdin?: AsyncIterable<Uint8Array>
  signal?: AbortSignal
  /** Kill the child after this long. @default 10 minutes */
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  /** Most stdout bytes `runCommand` keeps before failing. @default 256 MiB */
  maxOutput?: number
}

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000
const DEFAULT_MAX_OUTPUT = 256 * 1024 * 1024
const STDERR_TAIL = 64 * 1024

/** Resolves when `stream` can take more data or has closed, leaving no listener behind. */
/** Resolves once `stream` has handed `chunk` to the OS (or closed): then the chunk's buffer may be reused. */
function written (stream: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      stream.off('close', done)
      resolve()
    }
    stream.on('close', done)
    stream.write(chunk, done)
  })
}

class Child {
  readonly process: ChildProcess
  readonly exited: Promise<number | null>
  stderr = ''
  #failure: unknown
  readonly #cleanup: () => void

  constructor (command: string, args: readonly string[], options: RunOptions) {
    options.signal?.throwIfAborted()
    this.process = spawn(command, args, {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env
    })
    this.process.stderr?.setEncoding('utf8')
    this.process.stderr?.on('data', (text: string) => { this.stderr = (this.stderr + text).slice(-STDERR_TAIL) })
    const kill = (reason: unknown): void => {
      this.#failure ??= reason
      this.process.kill('SIGKILL')
    }
    const onAbort = (): void => kill(options.signal?.reason)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => kill(new NixCommandError(command, args, null, `timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    this.#cleanup = () => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
    this.exited = new Promise((resolve, reject) => {
      this.process.once('error', err => reject(new NixCommandError(command, args, null, err.message, err)))
      this.process.once('close', code => resolve(code))
    }).then(code => {
      this.#cleanup()
      if (this.#failure !== undefined) throw this.#failure
      if (code !== 0) throw new NixCommandError(command, args, code as number | null, this.stderr)
      return code
    }, err => {
      this.#cleanup()
      throw this.#failure ?? err
    })
    // Callers always await `exited` eventually; this stops an early rejection from being reported as unhandled.
    this.exited.catch(() => {})
    if (options.stdin !== undefined) this.#feed(options.stdin)
  }

  kill (reason: unknown): void {
    this.#failure ??= reason
    this.process.kill('SIGKILL')
  }

  #feed (source: AsyncIterable<Uint8Array>): void {
    const stdin = this.process.stdin
    if (stdin === null) return
    // A child that exits early closes the pipe: EPIPE here is reported through its exit status instead.
    stdin.on('error', () => {})
    const pump = async (): Promise<void> => {
      for await (const chunk of source) {
        if (stdin.destroyed) return
        // One chunk at a time, each written before the next is asked for: a source may refill one buffer.
        await written(stdin, chunk)
      }
      stdin.end()
    }
    pump().catch(err => this.kill(err))
  }
}

/** Runs `command args` to completion and returns its stdout; NixCommandError (with stderr) on failure. */
export async function runCommand (command: string, args: readonly string[], options: RunOptions = {}): Promise<{ stdout: Buffer, stderr: string }> {
  const child = new Child(command, args, options)
  const limit = options.maxOutput ?? DEFAULT_MAX_OUTPUT
  const chunks: Buffer[] = []
  let size = 0
  child.process.stdout?.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size > limit) child.kill(new NixCommandError(command, args, null, `printed more than ${limit} bytes`))
    else chunks.push(chunk)
  })
  await child.exited
  return { stdout: Buffer.concat(chunks), stderr: child.stderr }
}

/**
 * Runs `command args` and yields its stdout as it comes (back-pressure through the pipe); throws
 * NixCommandError after the last chunk if the command failed. Stopping early kills the child.
 */
export async function * streamCommand (command: string, args: readonly string[], options: RunOptions = {}): AsyncGenerator<Uint8Array> {
  const child = new Child(command, args, options)
  let finished = false
  try {
    const stdout = child.process.stdout
    if (stdout !== null) {
      for await (const chunk of stdout) yield chunk as Buffer
    }
    await child.exited
    finished = true
  } finally {
    if (!finished) {
      child.kill(new NixCommandError(command, args, null, 'stopped by its reader'))
      await child.exited.catch(() => {})
    }
  }
}
