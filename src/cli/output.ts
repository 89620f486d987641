/**
 * Everything the CLI prints goes through here: results on stdout (text or `--json`), progress and errors on
 * stderr. Progress redraws one line on a terminal and prints plain lines otherwise.
 */
import { describeError, EmergenceError } from '../util/errors.ts'

export interface Output {
  json: boolean
  /** A result: an object in `--json` mode, else the text lines. */
  result: (value: unknown, text: () => string) => void
  line: (text: string) => void
  /** Bytes passed through to stdout as they are (a container's log); resolves once stdout took them. */
  raw: (bytes: Uint8Array) => Promise<void>
  /**
   * A progress report: the text on a terminal (redrawn) or as a plain line at most once a second; with `--json`,
   * `data` as one JSON line on stderr (`{"progress": ...}`, also at most once a second), so a script sees a long
   * pull move before its result comes on stdout.
   */
  progress: (text: string, data?: unknown) => void
  done: () => void
}

export function createOutput (json: boolean, stream: NodeJS.WriteStream = process.stderr): Output {
  const tty = stream.isTTY && !json
  let lastPlain = 0
  let pending = false
  /** True at most once a second: plain and JSON progress lines are throttled, a terminal line is redrawn. */
  const due = (): boolean => {
    const now = Date.now()
    if (now - lastPlain < 1000) return false
    lastPlain = now
    return true
  }
  return {
    json,
    result (value, text) {
      process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : ensureNewline(text()))
    },
    line (text) {
      if (!json) process.stdout.write(ensureNewline(text))
    },
    async raw (bytes) {
      await new Promise<void>((resolve, reject) => { process.stdout.write(bytes, err => { if (err != null) reject(err); else resolve() }) })
    },
    progress (text, data) {
      if (json) {
        if (data === undefined || !due()) return
        stream.write(JSON.stringify({ progress: data }) + '\n')
        return
      }
      if (tty) {
        stream.write(`\r\x1b[2K${text}`)
        pending = true
        return
      }
      if (due()) stream.write(text + '\n')
    },
    done () {
      if (pending) stream.write('\n')
      pending = false
    }
  }
}

function ensureNewline (text: string): string {
  return text === '' || text.endsWith('\n') ? text : text + '\n'
}

/** Prints one clear error line and returns the exit code. */
export function reportError (err: unknown, json: boolean): number {
  const code = err instanceof EmergenceError ? err.code : 'ERROR'
  const message = describeError(err)
  if (json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n')
  process.stderr.write(`emergence: error: ${message}\n`)
  return 1
}

export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`
}

/** A fixed-width text table. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [fmt(header), ...rows.map(fmt)].join('\n')
}
