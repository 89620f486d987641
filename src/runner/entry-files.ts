/** File-level helpers of the layer applier: writing a regular file's bytes, lstat without throwing, draining an entry. */
import { closeSync, constants, lstatSync, openSync, writeSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { isErrno } from '../util/errors.ts'

/** The readable side of one tar entry (tar-stream's entry stream). */
export type EntryBody = AsyncIterable<Uint8Array>

export function lstatOrUndefined (path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    if (isErrno(err, 'ENOTDIR')) return undefined
    throw err
  }
}

/** Reads an entry's remaining bytes so the tar parser can move on. */
export async function drain (body: EntryBody): Promise<void> {
  for await (const _chunk of body) { /* discard */ }
}

/** Writes exactly the entry's bytes into a new file (tar-stream enforces the header's size). */
export async function writeRegular (path: string, body: EntryBody): Promise<void> {
  // O_EXCL|O_NOFOLLOW: the path was just cleared, so anything there now is not ours to write through.
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666)
  try {
    for await (const chunk of body) {
      let offset = 0
      while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset)
    }
  } finally {
    closeSync(fd)
  }
}

