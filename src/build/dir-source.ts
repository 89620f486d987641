/**
 * A directory as layer entries: walked depth-first with names sorted by their bytes, every entry lstat'ed and
 * never followed. A symlink is stored as a symlink with its target verbatim, whether that target points inside
 * the directory or not: the build never reads through it, so a link to /etc/shadow adds a link, not the file.
 * Hard links inside the directory (same device and inode) become tar hard links to the first name in order,
 * unless `hardLinks` is off (Nix store paths: whether two files share an inode there depends on the machine's
 * `nix-store --optimise`, not on the path, so each is stored as a file). Owners are the stamp's: the files' own
 * depend on who runs the build.
 */
import { constants } from 'node:fs'
import { lstat, open, readdir, readlink } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join } from 'node:path'
import type { Pack } from 'tar-stream'
import { UnsupportedEntryError } from './errors.ts'
import { putEntry, underDest, type EntryHeader, type EntryStamp } from './pack-entries.ts'

function compareBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

export interface WalkOptions {
  /** Store hard links as tar hard links. @default true */
  hardLinks?: boolean
}

interface Walk extends WalkOptions {
  pack: Pack
  stamp: EntryStamp
  dest: string
  /** `dev:ino` of files with several links -> the name the first one was stored under. */
  links: Map<string, string>
}

/** Adds everything under `dir` (not `dir` itself) as entries under `dest`. */
export async function packDirectory (pack: Pack, dir: string, dest: string, stamp: EntryStamp, options: WalkOptions = {}): Promise<void> {
  await walk({ ...options, pack, stamp, dest, links: new Map() }, dir, '')
}

/** Adds `path` itself as the entry `name` (whatever its type), and everything under it when it is a directory. */
export async function packPath (pack: Pack, path: string, name: string, stamp: EntryStamp, options: WalkOptions = {}): Promise<void> {
  const w: Walk = { ...options, pack, stamp, dest: name, links: new Map() }
  const info = await lstat(path)
  await putPath(w, path, name, info)
  if (info.isDirectory()) await walk(w, path, '')
}

async function walk (w: Walk, dir: string, rel: string): Promise<void> {
  const names = (await readdir(dir)).sort(compareBytes)
  for (const name of names) {
    const path = join(dir, name)
    const childRel = rel === '' ? name : `${rel}/${name}`
    const info = await lstat(path)
    await putPath(w, path, underDest(w.dest, childRel), info)
    if (info.isDirectory()) await walk(w, path, childRel)
  }
}

async function putPath (w: Walk, path: string, name: string, info: Stats): Promise<void> {
  const base: EntryHeader = { name, type: 'file', mode: info.mode & 0o7777, uid: w.stamp.owner.uid, gid: w.stamp.owner.gid, mtime: w.stamp.mtime }
  if (info.isDirectory()) return await putEntry(w.pack, { ...base, name: name + '/', type: 'directory' })
  if (info.isSymbolicLink()) return await putEntry(w.pack, { ...base, type: 'symlink', linkname: await readlink(path) })
  if (info.isFile()) {
    const key = `${info.dev}:${info.ino}`
    const linked = info.nlink > 1 && w.hardLinks !== false
    const first = linked ? w.links.get(key) : undefined
    if (first !== undefined) return await putEntry(w.pack, { ...base, type: 'link', linkname: first })
    if (linked) w.links.set(key, name)
    // O_NOFOLLOW: a file swapped for a symlink after the lstat fails instead of being read through.
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      return await putEntry(w.pack, { ...base, size: info.size }, handle.createReadStream({ autoClose: false, highWaterMark: 1024 * 1024 }))
    } finally {
      await handle.close()
    }
  }
  if (info.isFIFO()) return await putEntry(w.pack, { ...base, type: 'fifo' })
  if (info.isCharacterDevice() || info.isBlockDevice()) {
    const type = info.isCharacterDevice() ? 'character-device' : 'block-device'
    // Linux's dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
    const devmajor = ((info.rdev >> 8) & 0xfff)
    const devminor = (info.rdev & 0xff) | ((info.rdev >> 12) & 0xfff00)
    return await putEntry(w.pack, { ...base, type, devmajor, devminor })
  }
  throw new UnsupportedEntryError(path, 'sockets cannot be stored in a tar')
}
