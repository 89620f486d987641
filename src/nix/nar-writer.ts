/**
 * A streaming NAR writer (docs/formats.md "NAR") whose bytes equal `nix-store --dump`: entries sorted by raw bytes,
 * `executable` when the owner x bit is set, symlink targets verbatim, empty directories kept. Paths are handled
 * as bytes, so names that are not UTF-8 survive. Memory stays bounded: file contents are read in chunks and
 * small token runs are coalesced into chunks of about `chunkSize` bytes.
 */
import { lstat, open, readdir, readlink } from 'node:fs/promises'
import { constants } from 'node:fs'
import { NarFileChangedError, NarUnsupportedFileError } from './errors.ts'
import { NAR_MAGIC, compareBytes, narStrings, padding, u64 } from './nar-format.ts'

export interface DumpNarOptions {
  /** Size of the chunks yielded (contents are read in chunks of this size too). @default 256 KiB */
  chunkSize?: number
  signal?: AbortSignal
}

const DEFAULT_CHUNK_SIZE = 256 * 1024
const SLASH = Buffer.from('/')
const OWNER_EXECUTE = 0o100

function child (dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, SLASH, name])
}

async function * fileContents (path: Buffer, size: number, chunkSize: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  // O_NOFOLLOW: the path was lstat'ed as a regular file; refuse it if it was swapped for a symlink since.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    let left = size
    while (left > 0) {
      signal?.throwIfAborted()
      const buffer = Buffer.allocUnsafe(Math.min(left, chunkSize))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) throw new NarFileChangedError(path.toString())
      left -= bytesRead
      yield buffer.subarray(0, bytesRead)
    }
    const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, null)
    if (bytesRead !== 0) throw new NarFileChangedError(path.toString())
  } finally {
    await handle.close()
  }
}

async function * node (path: Buffer, chunkSize: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted()
  const stat = await lstat(path)
  if (stat.isSymbolicLink()) {
    yield narStrings('(', 'type', 'symlink', 'target', await readlink(path, { encoding: 'buffer' }), ')')
  } else if (stat.isFile()) {
    const executable = (stat.mode & OWNER_EXECUTE) !== 0
    yield narStrings('(', 'type', 'regular', ...(executable ? ['executable', ''] : []), 'contents')
    yield u64(stat.size)
    yield * fileContents(path, stat.size, chunkSize, signal)
    yield Buffer.concat([Buffer.alloc(padding(stat.size)), narStrings(')')])
  } else if (stat.isDirectory()) {
    yield narStrings('(', 'type', 'directory')
    const names = (await readdir(path, { encoding: 'buffer' })).sort(compareBytes)
    for (const name of names) {
      yield narStrings('entry', '(', 'name', name, 'node')
      yield * node(child(path, name), chunkSize, signal)
      yield narStrings(')')
    }
    yield narStrings(')')
  } else {
    throw new NarUnsupportedFileError(path.toString())
  }
}

/** Joins small pieces into chunks of about `size` bytes; pieces at least that large pass through untouched. */
async function * coalesce (source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  for await (const piece of source) {
    if (pendingBytes + piece.length > size && pendingBytes > 0) {
      yield Buffer.concat(pending, pendingBytes)
      pending = []
      pendingBytes = 0
    }
    if (piece.length >= size) {
      yield piece
    } else {
      pending.push(piece)
      pendingBytes += piece.length
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes)
}

/** Streams the NAR serialisation of `path` (a file, symlink or directory tree). */
export function dumpNar (path: string | Buffer, options: DumpNarOptions = {}): AsyncGenerator<Uint8Array> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const root = typeof path === 'string' ? Buffer.from(path) : path
  async function * all (): AsyncGenerator<Uint8Array> {
    yield narStrings(NAR_MAGIC)
    yield * node(root, chunkSize, options.signal)
  }
  return coalesce(all(), chunkSize)
}
