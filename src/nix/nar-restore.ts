/**
 * Restores a NAR stream into a new file, symlink or directory tree at `target`, all or nothing: the archive is
 * written into a temp directory beside the target (same filesystem) and renamed into place only after the whole
 * stream parsed cleanly; on any error the temp directory is removed and `target` never appears.
 *
 * Nothing is followed through a symlink: entries are created with O_EXCL / mkdir / symlink (none of which follow
 * the last component), every parent is a directory this restore created (checked, NarSymlinkParentError
 * otherwise), and symlink targets are written verbatim, never resolved. File contents go straight to disk.
 */
import { mkdir, mkdtemp, open, rename, rm, rmdir, symlink } from 'node:fs/promises'
import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { NarSymlinkParentError, NarTargetExistsError } from './errors.ts'
import { parseNar } from './nar-reader.ts'
import type { NarEntry, NarPath, ParseNarOptions } from './nar-reader.ts'
import { pathExists } from '../util/fs.ts'

export type RestoreNarOptions = ParseNarOptions

const SLASH = Buffer.from('/')

function joinPath (root: Buffer, path: NarPath): Buffer {
  return path.length === 0 ? root : Buffer.concat([root, ...path.flatMap(name => [SLASH, name])])
}

/** Small input chunks are gathered up to this many bytes per write, so a trickling stream costs few syscalls. */
const WRITE_BATCH = 256 * 1024

async function writeAll (handle: FileHandle, data: Uint8Array): Promise<void> {
  let written = 0
  while (written < data.length) written += (await handle.write(data, written, data.length - written)).bytesWritten
}

async function writeRegular (path: Buffer, entry: Extract<NarEntry, { type: 'regular' }>, signal?: AbortSignal): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
  const handle = await open(path, flags, entry.executable ? 0o755 : 0o644)
  // One batch is written while the next is read: at most two batches (2 x WRITE_BATCH bytes) are held.
  let writing: Promise<void> = Promise.resolve()
  try {
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    for await (const chunk of entry.contents) {
      signal?.throwIfAborted()
      pending.push(chunk)
      pendingBytes += chunk.length
      if (pendingBytes >= WRITE_BATCH) {
        const batch = pending.length === 1 ? chunk : Buffer.concat(pending, pendingBytes)
        await writing
        writing = writeAll(handle, batch)
        // Marked handled now; the error still surfaces at the next `await writing`.
        writing.catch(() => {})
        pending = []
        pendingBytes = 0
      }
    }
    await writing
    if (pendingBytes > 0) await writeAll(handle, Buffer.concat(pending, pendingBytes))
  } finally {
    await writing.catch(() => {})
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

/** Restores the NAR read from `source` at `target`, which must not exist yet. */
export async function restoreNar (source: AsyncIterable<Uint8Array>, target: string, options: RestoreNarOptions = {}): Promise<void> {
  if (await pathExists(target)) throw new NarTargetExistsError(target)
  // Keep the temp name under NAME_MAX even for the longest store path names.
  const temp = await mkdtemp(join(dirname(target), `.${basename(target).slice(0, 200)}.restore-`))
  const root = Buffer.from(join(temp, 'root'))
  const chain = new DirectoryChain()
  try {
    for await (const entry of parseNar(source, options)) {
      options.signal?.throwIfAborted()
      chain.enter(entry)
      const path = joinPath(root, entry.path)
      if (entry.type === 'directory') await mkdir(path, { mode: 0o755 })
      else if (entry.type === 'symlink') await symlink(entry.target, path)
      else await writeRegular(path, entry, options.signal)
    }
    if (await pathExists(target)) throw new NarTargetExistsError(target)
    await rename(root, target)
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
  await rmdir(temp)
}
