/**
 * Pre-copy of the state directory (docs/automata.md "Migration"), with OCI layer semantics (image-spec
 * layer.md): while the automaton still runs, a base snapshot (the deterministic tar of snapshot.ts) goes to the
 * target; after the stop, a delta layer holds only what differs from the base, plus a whiteout (`.wh.<name>`)
 * for each entry the base has and the directory no longer does. The target applies it onto the unpacked base
 * with the runner's layer unpacker, so the downtime moves the delta, not the state.
 *
 * What "differs" means: the base walk lstats every entry before the tar reads it and records its type, mode,
 * size, mtime (ns), inode, link count and symlink target. An entry is sent again unless all of them are the
 * same after the stop and its mtime is older than the walk: the mtime of a file the walk writes next to the state
 * directory just before it starts, on the same file system and so with its timestamp granularity. A write in
 * the same clock tick as the walk's lstat would leave the mtime unchanged, so such entries are always sent, as
 * git treats its "racily clean" files. A change of inode or link count covers files replaced by rename and hard links made
 * or broken. The base's names are the ones its tar holds (recorded as they are packed), not the walk's: a file
 * created after the walk and deleted before the stop still gets its whiteout.
 */
import { randomBytes } from 'node:crypto'
import { lstat, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import type { BigIntStats } from 'node:fs'
import { join } from 'node:path'
import type { Pack } from 'tar-stream'
import { packDirectory, packPath } from '../../build/dir-source.ts'
import { putEntry } from '../../build/pack-entries.ts'
import type { Store } from '../../store/store.ts'
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../../runner/layer-apply.ts'
import type { Snapshot } from './phases.ts'
import { STAMP, storeTar, type TarEntry } from './snapshot.ts'

type Kind = 'dir' | 'file' | 'symlink' | 'other'

/** What the base walk saw of one entry: all a change would alter. */
interface Seen {
  kind: Kind
  mode: bigint
  size: bigint
  mtimeNs: bigint
  ino: bigint
  nlink: bigint
  link?: string
}

/** The base snapshot of a pre-copy and what the source needs to cut the delta against it. */
export interface Base {
  snapshot: Snapshot
  /** Every name in the base tar -> what the walk saw of it (undefined: unseen, or seen as another kind). */
  entries: Map<string, Seen | undefined>
  /** The names in the base tar under each directory ('' for the top). */
  children: Map<string, string[]>
  /** The names the base tar holds as directories. */
  dirs: Set<string>
  /** The file system's clock (ns) at the start of the base walk: entries at least this recent count as changed. */
  walkedAt: bigint
}

function kindOf (info: BigIntStats): Kind {
  if (info.isDirectory()) return 'dir'
  if (info.isFile()) return 'file'
  if (info.isSymbolicLink()) return 'symlink'
  return 'other'
}

async function see (path: string, info: BigIntStats): Promise<Seen> {
  const kind = kindOf(info)
  return { kind, mode: info.mode, size: info.size, mtimeNs: info.mtimeNs, ino: info.ino, nlink: info.nlink, ...(kind === 'symlink' ? { link: await readlink(path) } : {}) }
}

/** lstats everything under `dir`; returns the entries by relative name and their total size in bytes. */
async function walk (dir: string, rel = '', seen = new Map<string, Seen>()): Promise<{ seen: Map<string, Seen>, bytes: number }> {
  let bytes = 0
  for (const name of await readdir(dir)) {
    const path = join(dir, name)
    const childRel = rel === '' ? name : `${rel}/${name}`
    const info = await lstat(path, { bigint: true })
    seen.set(childRel, await see(path, info))
    bytes += Number(info.size)
    if (info.isDirectory()) bytes += (await walk(path, childRel, seen)).bytes
  }
  return { seen, bytes }
}

/** The total size of the files under `dir`, to choose between a pre-copy and a one-shot snapshot. */
export async function stateBytes (dir: string): Promise<number> {
  return (await walk(dir)).bytes
}

function tarKind (type: TarEntry['type']): Kind {
  if (type === 'directory') return 'dir'
  if (type === 'file' || type === 'link' || type === undefined) return 'file'
  if (type === 'symlink') return 'symlink'
  return 'other'
}

/** Packs the running automaton's `stateDir` as the base of a pre-copy, pinned with `note`. */
export async function snapshotBase (store: Store, stateDir: string, note: string): Promise<Base> {
  const walkedAt = await fileSystemNow(`${stateDir}.precopy-${randomBytes(4).toString('hex')}`)
  const { seen } = await walk(stateDir)
  const entries = new Map<string, Seen | undefined>()
  const children = new Map<string, string[]>()
  const dirs = new Set<string>()
  const snapshot = await storeTar(store, note, async pack => { await packDirectory(pack, stateDir, '', STAMP) }, header => {
    const rel = header.name.replace(/\/$/, '')
    if (header.type === 'directory') dirs.add(rel)
    const before = seen.get(rel)
    // The tar read the entry after the walk: if it became another kind meanwhile, the walk's view is not the base's.
    entries.set(rel, before !== undefined && before.kind === tarKind(header.type) ? before : undefined)
    const cut = rel.lastIndexOf('/')
    const parent = cut < 0 ? '' : rel.slice(0, cut)
    const names = children.get(parent) ?? []
    names.push(cut < 0 ? rel : rel.slice(cut + 1))
    children.set(parent, names)
  })
  return { snapshot, entries, children, dirs, walkedAt }
}

/** The mtime the file system gives a file written now (its granularity included), through a temp file at `path`. */
async function fileSystemNow (path: string): Promise<bigint> {
  await writeFile(path, '', { flag: 'wx', mode: 0o600 })
  try {
    return (await lstat(path, { bigint: true })).mtimeNs
  } finally {
    await rm(path, { force: true })
  }
}

function unchanged (before: Seen | undefined, now: Seen, walkedAt: bigint): boolean {
  if (before === undefined || before.kind !== now.kind || before.mode !== now.mode) return false
  // A directory's own times are not kept (mtime 0 in the tar): its children are compared one by one.
  if (now.kind === 'dir') return true
  return before.size === now.size && before.mtimeNs === now.mtimeNs && before.ino === now.ino && before.nlink === now.nlink &&
    before.link === now.link && before.mtimeNs < walkedAt
}

/**
 * Packs the delta of the stopped automaton's `stateDir` against `base`, pinned with `note`: every entry that
 * changed or is new (a new or changed directory with all it holds), and whiteouts for what the base holds and
 * the directory does not. Hard links stay links, except between a new directory's files and files outside it
 * (each is then sent as a file).
 */
export async function snapshotDelta (store: Store, stateDir: string, base: Base, note: string): Promise<Snapshot> {
  return await storeTar(store, note, async pack => { await packDelta(pack, stateDir, '', base) })
}

/** `dev:ino` of the hard-linked files the delta holds -> the name the first one went under. */
type Links = Map<string, string>

async function packDelta (pack: Pack, dir: string, rel: string, base: Base, links: Links = new Map()): Promise<void> {
  const names = (await readdir(dir)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  const present = new Set(names)
  for (const gone of base.children.get(rel) ?? []) {
    if (present.has(gone)) continue
    await putWhiteout(pack, `${rel === '' ? '' : `${rel}/`}${WHITEOUT_PREFIX}${gone}`)
  }
  for (const name of names) {
    const path = join(dir, name)
    const childRel = rel === '' ? name : `${rel}/${name}`
    const info = await lstat(path, { bigint: true })
    const now = await see(path, info)
    const before = base.entries.get(childRel)
    if (unchanged(before, now, base.walkedAt)) {
      if (now.kind === 'dir') await packDelta(pack, path, childRel, base, links)
      continue
    }
    if (now.kind === 'file' && info.nlink > 1n) {
      const key = `${info.dev}:${info.ino}`
      const first = links.get(key)
      if (first !== undefined) {
        await putEntry(pack, { name: childRel, type: 'link', linkname: first, mode: Number(info.mode & 0o7777n), uid: STAMP.owner.uid, gid: STAMP.owner.gid, mtime: STAMP.mtime })
        continue
      }
      links.set(key, childRel)
    }
    await packPath(pack, path, childRel, STAMP)
    // A directory sent whole over one the base holds: an opaque whiteout hides the base's children there.
    if (now.kind === 'dir' && base.dirs.has(childRel)) await putWhiteout(pack, `${childRel}/${OPAQUE_WHITEOUT}`)
  }
}

async function putWhiteout (pack: Pack, name: string): Promise<void> {
  await putEntry(pack, { name, type: 'file', mode: 0o600, size: 0, uid: STAMP.owner.uid, gid: STAMP.owner.gid, mtime: STAMP.mtime })
}
