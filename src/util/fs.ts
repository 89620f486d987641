/** Small filesystem helpers shared by the store and the runner: atomic replace, fsync of directories. */
import { readFileSync } from 'node:fs'
import { lstat, open, rename, rm, mkdir } from 'node:fs/promises'
import { isErrno } from './errors.ts'
import { randomBytes } from 'node:crypto'
import { dirname, join, basename } from 'node:path'

/** Flushes a file's data, or a directory's entries (so that a rename inside it survives a crash), to disk. */
export async function fsyncPath (path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Flushes a directory entry so that a rename inside it survives a crash. */
export async function fsyncDir (dir: string): Promise<void> {
  await fsyncPath(dir)
}

/** A unique temp file name beside nothing in particular: `<dir>/<prefix>.<pid>.<random>`. */
export function tempName (dir: string, prefix: string): string {
  return join(dir, `${prefix}.${process.pid}.${randomBytes(6).toString('hex')}`)
}

/**
 * Writes `data` to `path` atomically: a temp file in `tmpDir` (same filesystem), fsync, rename, fsync of the
 * directory. Readers see the old content or the new, never a mix.
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, tmpDir = dirname(path)): Promise<void> {
  await mkdir(tmpDir, { recursive: true })
  const tmp = tempName(tmpDir, basename(path))
  const handle = await open(tmp, 'wx', 0o644)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(tmp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await fsyncDir(dirname(path))
}

/**
 * True while a process with this pid runs (signal 0 probes without sending anything). A zombie (exited, not yet
 * reaped by its parent or init) counts as gone: it holds nothing and will never answer.
 */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; the comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

/** True when something (file, directory, link, even a dangling one) exists at `path`. */
export async function pathExists (path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false
    throw err
  }
}

/**
 * Yields the bytes of the file at `path` as views of `buffer`, which is refilled for every chunk: the consumer
 * must be done with a chunk (written it out, not just queued it) before it asks for the next. Reading many files
 * through one buffer allocates nothing per chunk; fresh 1 MiB read buffers at hundreds of MB/s keep V8's
 * collector busy with external memory.
 */
export async function * readThrough (path: string, buffer: Uint8Array): AsyncGenerator<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    while (true) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null)
      if (bytesRead === 0) return
      yield buffer.subarray(0, bytesRead)
    }
  } finally {
    await handle.close()
  }
}
