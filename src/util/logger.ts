/**
 * Component loggers on pino. Components receive one through their `Components`/options; nothing below the CLI
 * writes to the console directly. Every line carries a timestamp, the level and the component's name: JSON lines
 * on stderr when stderr is not a terminal (a log file, journald, a collector), a readable one-line form on a
 * terminal (docs/operations.md "Monitoring").
 *
 * The level is, first to last: `setLogLevel` (the CLI's `--log-level`, the node's `logLevel` key), then
 * `EMERGENCE_LOG`, then `warn`. It is read at each call, so loggers made before the flag was parsed follow it.
 * pino itself is loaded on the first line written, so commands that log nothing never load it.
 */
import { createRequire } from 'node:module'
import type pino from 'pino'
import type { DestinationStream, Logger as PinoLogger, LoggerOptions } from 'pino'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** The environment variable that sets the level when no flag or config key does. */
export const LOG_ENV = 'EMERGENCE_LOG'
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn'

export interface Logger {
  error: (message: string, ...args: unknown[]) => void
  warn: (message: string, ...args: unknown[]) => void
  info: (message: string, ...args: unknown[]) => void
  debug: (message: string, ...args: unknown[]) => void
}

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)
}

let explicitLevel: LogLevel | undefined

/** Sets the level of every logger of this process, made before or after; it wins over `EMERGENCE_LOG` (undefined: no longer). */
export function setLogLevel (level: LogLevel | undefined): void {
  explicitLevel = level
}

/** The level in force: `setLogLevel`'s, else `EMERGENCE_LOG` (when it names a level), else `warn`. */
export function currentLogLevel (): LogLevel {
  if (explicitLevel !== undefined) return explicitLevel
  const value = process.env[LOG_ENV]
  return isLogLevel(value) ? value : DEFAULT_LOG_LEVEL
}

export interface LogSink {
  /** Where lines go. @default stderr (synchronous, so that nothing is lost when the process exits) */
  destination?: DestinationStream
  /** The readable one-line form instead of JSON. @default stderr is a terminal */
  pretty?: boolean
}

/** The one pino instance of the process; components are its children. */
let root: PinoLogger | undefined

function makeRoot (sink: LogSink): PinoLogger {
  // pino is CommonJS: required here, on first use, rather than imported by every module that names a Logger.
  const load = createRequire(import.meta.url)('pino') as typeof pino
  const options: LoggerOptions = {
    // Filtering is ours (see `emit`): pino writes whatever reaches it.
    level: 'debug',
    timestamp: load.stdTimeFunctions.isoTime,
    formatters: { level: label => ({ level: label }) }
  }
  const pretty = sink.pretty ?? process.stderr.isTTY
  const target = sink.destination ?? load.destination({ fd: 2, sync: true })
  return load(options, pretty ? prettyStream(target) : target)
}

/** Turns pino's JSON lines into `12:00:01.250 WARN  daemon: message key=value` lines. */
function prettyStream (target: DestinationStream): DestinationStream {
  return { write: (line: string) => { target.write(formatLine(line)) } }
}

const STANDARD_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg'])

/** One JSON log line in the readable form; a line that is not ours is passed through. */
export function formatLine (json: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : ''
  const level = String(record.level ?? '').toUpperCase().padEnd(5)
  const component = typeof record.component === 'string' ? `${record.component}: ` : ''
  const extra = Object.entries(record)
    .filter(([key]) => !STANDARD_FIELDS.has(key))
    .map(([key, value]) => key === 'err' && typeof value === 'object' && value !== null && 'message' in value
      ? `err=${JSON.stringify(value.message)}`
      : `${key}=${JSON.stringify(value)}`)
  return `${time} ${level} ${component}${String(record.msg ?? '')}${extra.length > 0 ? ' ' + extra.join(' ') : ''}\n`
}

/** Extra arguments as fields: an Error as `err` (message, type, stack), anything else in `args`. */
function fieldsOf (args: unknown[]): Record<string, unknown> | undefined {
  if (args.length === 0) return undefined
  const err = args.find(a => a instanceof Error)
  const rest = args.filter(a => a !== err)
  return { ...(err !== undefined ? { err } : {}), ...(rest.length > 0 ? { args: rest } : {}) }
}

/**
 * A logger for one component. `level` fixes its level (otherwise the process's, read at each call); `sink` sends
 * its lines elsewhere than stderr (tests), with a pino instance of its own.
 */
export function createLogger (component: string, level?: LogLevel, sink?: LogSink): Logger {
  let child: PinoLogger | undefined
  const emit = (at: LogLevel) => (message: string, ...args: unknown[]): void => {
    if (ORDER[at] > ORDER[level ?? currentLogLevel()]) return
    if (child === undefined) {
      const parent = sink !== undefined ? makeRoot(sink) : (root ??= makeRoot({}))
      child = parent.child({ component })
    }
    const fields = fieldsOf(args)
    if (fields !== undefined) child[at](fields, message)
    else child[at](message)
  }
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') }
}

/** A logger that drops everything: the default in unit tests. */
export const silentLogger: Logger = { error () {}, warn () {}, info () {}, debug () {} }
