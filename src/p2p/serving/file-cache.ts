/**
 * Open file handles for serving pieces, kept for a few seconds after their last use. A piece request then
 * costs one positioned read instead of a stat, an open, a read and a close, which matters when the disk is busy
 * (each of those waits in libuv's small thread pool). A handle outlives a rename (a partial blob committed) and
 * keeps a deleted file's bytes readable until it is closed; the bytes are content-addressed, so they are still
 * right, and the holdings stop offering a deleted blob at the next HAVE.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { isErrno } from '../../util/errors.ts'
import { pieceBuffers } from './buffer-pool.ts'

const IDLE_MS = 5_000
const MAX_OPEN = 64

interface Entry {
  handle: Promise<{ handle: FileHandle, size: number } | undefined>
  lastUse: number
  reads: number
}

export class FileCache {
  private readonly entries = new Map<string, Entry>()
  private timer: ReturnType<typeof setInterval> | undefined

  /** Reads [start, end) of the file; undefined when it does not exist (or is shorter). */
  async read (path: string, start: number, end: number): Promise<Uint8Array | undefined> {
    const entry = this.entry(path)
    entry.reads++
    try {
      const opened = await entry.handle
      if (opened === undefined) {
        this.drop(path, entry)
        return undefined
      }
      if (end > opened.size) return undefined
      const buffer = pieceBuffers.take(end - start)
      let done = 0
      while (done < buffer.byteLength) {
        const { bytesRead } = await opened.handle.read(buffer, done, buffer.byteLength - done, start + done)
        if (bytesRead === 0) {
          pieceBuffers.give(buffer)
          return undefined
        }
        done += bytesRead
      }
      return buffer
    } finally {
      entry.reads--
      entry.lastUse = Date.now()
    }
  }

  /** The file's size, or undefined when it does not exist. */
  async size (path: string): Promise<number | undefined> {
    const entry = this.entry(path)
    entry.lastUse = Date.now()
    const opened = await entry.handle
    if (opened === undefined) this.drop(path, entry)
    return opened?.size
  }

  /** Forgets a path (its file was deleted), closing the handle once no read uses it. */
  evict (path: string): void {
    const entry = this.entries.get(path)
    if (entry === undefined) return
    this.entries.delete(path)
    void (async () => {
      const opened = await entry.handle.catch(() => undefined)
      while (entry.reads > 0) await new Promise(resolve => setTimeout(resolve, 50))
      await opened?.handle.close()
    })()
  }

  /** Closes every handle (on stop). */
  async close (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    const entries = [...this.entries.entries()]
    this.entries.clear()
    await Promise.all(entries.map(async ([, e]) => { await (await e.handle)?.handle.close() }))
  }

  private entry (path: string): Entry {
    let entry = this.entries.get(path)
    if (entry === undefined) {
      entry = { handle: openForRead(path), lastUse: Date.now(), reads: 0 }
      this.entries.set(path, entry)
      if (this.entries.size > MAX_OPEN) this.sweep(0)
      this.timer ??= setInterval(() => { this.sweep(IDLE_MS) }, IDLE_MS).unref()
    }
    return entry
  }

  private drop (path: string, entry: Entry): void {
    if (this.entries.get(path) === entry) this.entries.delete(path)
  }

  /** Closes handles unused for `idleMs` that no read is using. */
  private sweep (idleMs: number): void {
    const now = Date.now()
    for (const [path, entry] of this.entries) {
      if (entry.reads > 0 || now - entry.lastUse < idleMs) continue
      this.entries.delete(path)
      void entry.handle.then(async opened => { await opened?.handle.close() }).catch(() => {})
    }
  }
}

async function openForRead (path: string): Promise<{ handle: FileHandle, size: number } | undefined> {
  try {
    const handle = await open(path, 'r')
    return { handle, size: (await handle.stat()).size }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw err
  }
}
