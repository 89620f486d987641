/**
 * Restores a NAR stream into a new file, symlink or directory tree at `target`, all or nothing: the archive is
 * written into a temp directory beside the target (same filesystem) and renamed into place only after the whole
 * stream parsed cleanly; on any error the temp directory is removed and `target` never appears.
 *
 * Nothing is followed through a symlink: entries are created with O_EXCL / mkdir / symlink (none of which follow
 * the last component), every parent is a directory this restore created (checked, NarSymlinkParentError
 * otherwise), and symlink targets are written verbatim, never resolved. File contents go straight to disk.
 *
 * With `canonical`, the tree gets the metadata Nix gives every store path (docs/nix.md "Importing"): files 0444
 * or 0555, directories 0555, every mtime 1. Directories are made read-only last, after the rename, so that a
 * failed restore can still be removed by a user who is not root.
 */
import { chmod, lutimes, mkdir, mkdtemp, open, rename, rm, rmdir, symlink } from 'node:fs/promises'
import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { NarSymlinkParentError, NarTargetExistsError } from './errors.ts'
import { parseNar } from './nar-reader.ts'
import type { NarEntry, NarPath, ParseNarOptions } from './nar-reader.ts'
import { pathExists } from '../util/fs.ts'

export interface RestoreNarOptions extends ParseNarOptions {
  /** Nix's canonical store metadata: read-only modes and mtime 1. @default false */
  canonical?: boolean
  /** Each file's data reaches the disk (fdatasync) before the file is closed. @default false */
  durable?: boolean
}

/** The mtime Nix gives everything in the store (Nix calls it mtimeStore). */
const STORE_MTIME = 1

const SLASH = Buffer.from('/')

function joinPath (root: Buffer, path: NarPath): Buffer {
  return path.length === 0 ? root : Buffer.concat([root, ...path.flatMap(name => [SLASH, name])])
}

/** Input chunks below this size are copied and gathered up to it per write, so a trickling stream costs few syscalls. */
const WRITE_BATCH = 256 * 1024

async function writeAll (handle: FileHandle, data: Uint8Array): Promise<void> {
  let written = 0
  while (written < data.length) written += (await handle.write(data, written, data.length - written)).bytesWritten
}

/**
 * Every chunk is written out (or copied) before the next one is asked for, so the source may reuse one buffer for
 * all its chunks (closure-pull.ts reads NARs that way, sparing the garbage collector a buffer per read).
 */
async function writeRegular (path: Buffer, entry: Extract<NarEntry, { type: 'regular' }>, options: RestoreNarOptions): Promise<void> {
  const { signal } = options
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
  // The mode applies once the file is created; this descriptor may write to it whatever the mode says.
  const mode = options.canonical === true ? (entry.executable ? 0o555 : 0o444) : (entry.executable ? 0o755 : 0o644)
  const handle = await open(path, flags, mode)
  try {
    let pending: Buffer[] = []
    let pendingBytes = 0
    const flush = async (): Promise<void> => {
      if (pendingBytes > 0) await writeAll(handle, pending.length === 1 ? pending[0] as Buffer : Buffer.concat(pending, pendingBytes))
      pending = []
      pendingBytes = 0
    }
    for await (const chunk of entry.contents) {
      signal?.throwIfAborted()
      if (chunk.length >= WRITE_BATCH) {
        await flush()
        await writeAll(handle, chunk)
        continue
      }
      pending.push(Buffer.from(chunk))
      pendingBytes += chunk.length
      if (pendingBytes >= WRITE_BATCH) await flush()
    }
    await flush()
    if (options.canonical === true) await handle.utimes(new Date(), STORE_MTIME)
    if (options.durable === true) await handle.datasync()
  } finally {
    await handle.close()
  }
}

/**
 * Tracks the directories this restore created, as the chain from the root to the current one (entries arrive
 * depth first), so each entry's parent can be checked in O(1) without remembering every entry.
 */
class DirectoryChain {
  readonly #chain: string[] = []

  enter (entry: NarEntry): void {
    if (entry.path.length > 0) {
      const parent = entry.path.slice(0, -1).map(n => n.toString('hex')).join('/')
      while (this.#chain.length > 0 && this.#chain[this.#chain.length - 1] !== parent) this.#chain.pop()
      if (this.#chain.length === 0) throw new NarSymlinkParentError(entry.offset)
    }
    if (entry.type === 'directory') this.#chain.push(entry.path.map(n => n.toString('hex')).join('/'))
  }
}

/** Makes the directories read-only with mtime 1, deepest first (a child's change leaves its parent's mtime be). */
async function canonicalDirectories (target: Buffer, relative: readonly Buffer[]): Promise<void> {
  for (let i = relative.length - 1; i >= 0; i--) {
    const path = Buffer.concat([target, relative[i] as Buffer])
    await chmod(path, 0o555)
    await lutimes(path, new Date(), STORE_MTIME)
  }
}

/** Restores the NAR read from `source` at `target`, which must not exist yet. */
export async function restoreNar (source: AsyncIterable<Uint8Array>, target: string, options: RestoreNarOptions = {}): Promise<void> {
  if (await pathExists(target)) throw new NarTargetExistsError(target)
  // Keep the temp name under NAME_MAX even for the longest store path names.
  const temp = await mkdtemp(join(dirname(target), `.${basename(target).slice(0, 200)}.restore-`))
  const root = Buffer.from(join(temp, 'root'))
  const chain = new DirectoryChain()
  const canonical = options.canonical === true
  // With `canonical`: the directories made, relative to the root, in the order they were made.
  const directories: Buffer[] = []
  try {
    for await (const entry of parseNar(source, options)) {
      options.signal?.throwIfAborted()
      chain.enter(entry)
      const path = joinPath(root, entry.path)
      if (entry.type === 'directory') {
        await mkdir(path, { mode: 0o755 })
        if (canonical) directories.push(Buffer.from(path.subarray(root.length)))
      } else if (entry.type === 'symlink') {
        await symlink(entry.target, path)
        if (canonical) await lutimes(path, new Date(), STORE_MTIME)
      } else {
        await writeRegular(path, entry, options)
      }
    }
    if (await pathExists(target)) throw new NarTargetExistsError(target)
    await rename(root, target)
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
  await rmdir(temp)
  if (canonical) await canonicalDirectories(Buffer.from(target), directories)
}
