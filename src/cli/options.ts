/** Parsers for option values shared by several commands: a bad value is a usage error, never a NaN. */
import { InvalidArgumentError } from 'commander'

/** A number of seconds, 0 or more (`gc --grace`, `stop --timeout`): NaN would disable the wait it sets. */
export function parseSeconds (value: string): number {
  const seconds = Number(value)
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) throw new InvalidArgumentError('expected a number of seconds (0 or more)')
  return seconds
}

/** A comma-separated option value, added to what earlier uses of the option gave (commander's collector). */
export function splitList (value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map(s => s.trim()).filter(s => s !== '')]
}
