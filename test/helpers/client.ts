/** A child process speaking a line protocol on stdout: wait for given lines, then collect the rest. */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import type { Cleanup } from './temp.ts'

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

export interface LineChild {
  child: ChildProcessByStdio<Writable, Readable, Readable>
  /** Every line printed so far. */
  lines: string[]
  /** Resolves when the child prints exactly `line`; rejects if it exits first. */
  waitFor: (line: string) => Promise<void>
  exited: Promise<ChildExit>
}

/** Runs `node <script> ...args`; the child is killed when the test ends if it is still running. */
export function spawnNodeScript (cleanup: Cleanup, script: string, args: string[]): LineChild {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: Array<{ line: string, resolve: () => void, reject: (err: Error) => void }> = []
  let stderr = ''
  let exit: ChildExit | undefined
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  createInterface({ input: child.stdout }).on('line', line => {
    lines.push(line)
    for (const w of waiters.filter(w => w.line === line)) w.resolve()
  })
  const exited = new Promise<ChildExit>(resolve => {
    child.on('close', (code, signal) => {
      exit = { code, signal, stderr }
      for (const w of waiters) w.reject(new Error(`child exited (${String(code ?? signal)}) before printing ${w.line}: ${stderr}`))
      resolve(exit)
    })
  })
  cleanup.after(() => { if (exit === undefined) child.kill('SIGKILL') })
  return {
    child,
    lines,
    exited,
    waitFor: async (line) => {
      if (lines.includes(line)) return
      if (exit !== undefined) throw new Error(`child exited before printing ${line}: ${exit.stderr}`)
      await new Promise<void>((resolve, reject) => waiters.push({ line, resolve, reject }))
    }
  }
}
