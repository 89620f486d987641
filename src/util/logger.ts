/**
 * A tiny component logger. Components receive one through their `Components`/options; nothing below the CLI
 * writes to the console directly. Levels come from `EMERGENCE_LOG` (error, warn, info, debug; default warn).
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

export interface Logger {
  error: (message: string, ...args: unknown[]) => void
  warn: (message: string, ...args: unknown[]) => void
  info: (message: string, ...args: unknown[]) => void
  debug: (message: string, ...args: unknown[]) => void
}

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

function configuredLevel (): LogLevel {
  const value = process.env.EMERGENCE_LOG
  return value === 'error' || value === 'warn' || value === 'info' || value === 'debug' ? value : 'warn'
}

/** A logger for one component that writes `level component: message` lines to stderr. */
export function createLogger (component: string, level: LogLevel = configuredLevel()): Logger {
  const emit = (at: LogLevel) => (message: string, ...args: unknown[]): void => {
    if (ORDER[at] > ORDER[level]) return
    const extra = args.length > 0 ? ' ' + args.map(a => a instanceof Error ? a.message : JSON.stringify(a)).join(' ') : ''
    process.stderr.write(`${at} ${component}: ${message}${extra}\n`)
  }
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') }
}

/** A logger that drops everything: the default in unit tests. */
export const silentLogger: Logger = { error () {}, warn () {}, info () {}, debug () {} }
