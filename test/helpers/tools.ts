/** Running real tools (umoci, skopeo, tar) and the CLI from tests. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import assert from 'node:assert/strict'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CLI = join(REPO_ROOT, 'bin', 'emergence')

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a command to completion and returns its exit status and output (it never throws on a non-zero exit). */
export async function runCommand (command: string, args: string[], options: { env?: NodeJS.ProcessEnv, cwd?: string } = {}): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
    })
  })
}

/** Runs a tool that must succeed; throws with its stderr otherwise. */
export async function tool (command: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  const result = await runCommand(command, args, options)
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(result.code ?? result.signal)}: ${result.stderr.trim()}`)
  return result.stdout
}

/** Runs `bin/emergence` with `--data-dir <dataDir>` (when given) and no EMERGENCE_DATA_DIR from the caller. */
export async function runCli (args: string[], options: { dataDir?: string, env?: Record<string, string> } = {}): Promise<RunResult> {
  const { EMERGENCE_DATA_DIR: _ignored, ...base } = process.env
  const env = { ...base, ...(options.env ?? {}) }
  return await runCommand(CLI, [...(options.dataDir !== undefined ? ['--data-dir', options.dataDir] : []), ...args], { env })
}

/** The pid of a process that has exited (for files named after a writer that died). */
export async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => child.on('exit', resolve))
  if (child.pid === undefined) throw new Error('no pid')
  return child.pid
}

/**
 * A failed CLI run: a non-zero exit and exactly one stderr line starting with `emergence: error:`, the last one
 * (progress lines may come before it), and no stack trace. Returns that line.
 */
export function assertCliError (result: RunResult): string {
  assert.notEqual(result.code, 0, `expected a failure, stdout: ${result.stdout}`)
  const lines = result.stderr.split('\n').filter(l => l !== '')
  const errors = lines.filter(l => l.startsWith('emergence: error:'))
  assert.equal(errors.length, 1, `stderr: ${result.stderr}`)
  assert.equal(lines.at(-1), errors[0], `stderr: ${result.stderr}`)
  assert.equal(lines.some(l => /^\s+at /.test(l)), false, `stderr: ${result.stderr}`)
  assert.match(errors[0] ?? '', /^emergence: error: \S/)
  return errors[0] ?? ''
}
