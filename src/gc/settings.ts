/**
 * The automatic GC's settings as an operator writes them (docs/operations.md "Automatic GC"): watermarks as
 * percentages of the store's filesystem (`90%`), a store size (`50GiB`, `500M`), an interval (`5m`, `30s`).
 */
import { InvalidGcSettingError } from './errors.ts'

export const DEFAULT_GC_HIGH_WATERMARK = 0.9
export const DEFAULT_GC_LOW_WATERMARK = 0.8
/** Seconds between two checks of the watermarks. */
export const DEFAULT_GC_INTERVAL = 5 * 60

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 }

/** `90%` -> 0.9; a bare number (`0.9`, from a file, a variable or a flag) is already a fraction (0-1]. */
export function parsePercent (value: string | number): number {
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value) : null
  const fraction = typeof value === 'number' ? value : Number(match?.[1]) / (match?.[2] === '%' ? 100 : 1)
  if (!Number.isFinite(fraction) || fraction <= 0 || fraction > 1) {
    throw new InvalidGcSettingError(`invalid percentage ${JSON.stringify(value)}: use a share of the disk, e.g. 90%`)
  }
  return fraction
}

/** `50GiB`, `50G`, `1.5T`, `500M` or a number of bytes (1024-based units). */
export function parseSize (value: string | number): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(value) : null
  if (match === null) throw new InvalidGcSettingError(`invalid size ${JSON.stringify(value)}: use bytes with K/M/G/T, e.g. 50GiB`)
  return Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toUpperCase()] ?? 1))
}

/** `5m`, `30s`, `1h`, a number of seconds, or `off` (0). Returns seconds. */
export function parseDuration (value: string | number): number {
  if (value === 'off') return 0
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/.exec(value) : null
  if (match === null) throw new InvalidGcSettingError(`invalid interval ${JSON.stringify(value)}: use e.g. 5m, 30s, 1h, or off`)
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1)
}

/** A size cap: a size as `parseSize` reads it, or `off` / null for no cap. */
export function parseSizeCap (value: string | number | null): number | null {
  return value === null || value === 'off' ? null : parseSize(value)
}
