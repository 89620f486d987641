/**
 * The `Range` request header for blobs (RFC 9110 §14.2, docs/registry.md "What it answers"): one range,
 * `bytes=S-E`, `bytes=S-` (how containerd resumes) or `bytes=-N`. A header this does not understand, or several
 * ranges, is ignored and the whole blob is sent, as RFC 9110 allows; a range outside the blob is a 416.
 */
import type { ByteRange } from '../store/blob-store.ts'
import { RangeNotSatisfiableError } from './errors.ts'

const SINGLE = /^bytes=(\d*)-(\d*)$/

/** The range to send (end exclusive), or undefined for the whole blob. */
export function parseRange (header: string | undefined, size: number): Required<ByteRange> | undefined {
  if (header === undefined) return undefined
  const match = SINGLE.exec(header.trim())
  if (match === null) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) throw new RangeNotSatisfiableError(header, size)
    return { start: Math.max(0, size - suffix), end: size }
  }
  const start = Number(first)
  const end = last === '' ? size : Math.min(size, Number(last) + 1)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= size) throw new RangeNotSatisfiableError(header, size)
  return { start, end }
}
