/**
 * Base class of every error Emergence throws on purpose. Subsystems extend it with one class per failure, so
 * callers and tests match on `name` and the CLI can print `message` as one clear line.
 */
export class EmergenceError extends Error {
  /** A stable machine-readable code, e.g. for `--json` output and the registry mirror's error body. */
  readonly code: string

  constructor (message: string, options: { code?: string, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = options.code ?? 'EMERGENCE_ERROR'
  }
}

/** Returns the error's message chain on one line: `outer: inner: innermost`. */
export function describeError (err: unknown): string {
  const parts: string[] = []
  let current: unknown = err
  for (let depth = 0; current != null && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current)
    if (message !== '' && !parts.some(p => p.includes(message))) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(': ').replace(/\s*\n\s*/g, ' ')
}

/** Most characters of a path or name quoted in an error message: error lines stay readable (one line). */
export const MAX_QUOTED_LENGTH = 200

/**
 * `text` cut to about `max` characters, keeping its start and end (where a path's root and leaf are) around an
 * ellipsis, so that an error about a 4 KiB name stays one short line.
 */
export function shorten (text: string, max = MAX_QUOTED_LENGTH): string {
  if (text.length <= max) return text
  const head = Math.ceil((max - 1) / 2)
  const tail = Math.floor((max - 1) / 2)
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`
}

/** True when `err` is a Node system error with the given code (ENOENT, EEXIST, ...). */
export function isErrno (err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code
}
