/** A snapshot of a directory tree (types, modes, owners, link targets, content hashes, hard links) for comparisons. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, lutimes, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'

export interface NodeInfo {
  type: string
  mode: string
  owner: string
  mtime?: number
  size?: number
  target?: string
  sha256?: string
  rdev?: number
  /** Every path of the tree that shares this node's inode, when it has more than one link. */
  hardLinks?: string
}

function typeOf (info: Awaited<ReturnType<typeof lstat>>): string {
  if (info.isFile()) return 'file'
  if (info.isDirectory()) return 'dir'
  if (info.isSymbolicLink()) return 'symlink'
  if (info.isCharacterDevice()) return 'char'
  if (info.isBlockDevice()) return 'block'
  if (info.isFIFO()) return 'fifo'
  return 'other'
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Times after this are "now": an unpack sets them when it creates a directory no entry describes. */
const RECENT_MS = Date.now() - 5_000

/**
 * Maps each path ('' for the root) to what it is. Modification times are compared to the second, except that
 * any time since the test process started reads as -1 (when exactly "now" was differs between two unpacks).
 */
export async function snapshotTree (root: string): Promise<Map<string, NodeInfo>> {
  const nodes = new Map<string, NodeInfo>()
  const inodes = new Map<number, string[]>()
  const walk = async (rel: string): Promise<void> => {
    const path = rel === '' ? root : join(root, rel)
    const info = await lstat(path)
    const node: NodeInfo = { type: typeOf(info), mode: (info.mode & 0o7777).toString(8), owner: `${info.uid}:${info.gid}` }
    if (node.type !== 'symlink') node.mtime = info.mtimeMs >= RECENT_MS ? -1 : Math.floor(info.mtimeMs / 1000)
    if (node.type === 'file') {
      node.size = info.size
      node.sha256 = await sha256File(path)
    }
    if (node.type === 'symlink') node.target = await readlink(path)
    if (node.type === 'char' || node.type === 'block') node.rdev = info.rdev
    if (node.type !== 'dir' && info.nlink > 1) inodes.set(info.ino, [...(inodes.get(info.ino) ?? []), rel])
    nodes.set(rel, node)
    if (node.type === 'dir') {
      for (const name of (await readdir(path)).sort()) await walk(rel === '' ? name : `${rel}/${name}`)
    }
  }
  await walk('')
  for (const names of inodes.values()) {
    if (names.length < 2) continue
    const group = names.sort().join(',')
    for (const name of names) {
      const node = nodes.get(name)
      if (node !== undefined) node.hardLinks = group
    }
  }
  return nodes
}

/** Sets the times of everything under `root` (itself included) to `date`, children before parents. */
export async function stampTimes (root: string, date: Date): Promise<void> {
  const info = await lstat(root)
  if (info.isDirectory()) {
    for (const name of await readdir(root)) await stampTimes(join(root, name), date)
  }
  await lutimes(root, date, date)
}

/** Human-readable differences between two snapshots; empty when they are the same. */
export function diffTrees (expected: Map<string, NodeInfo>, actual: Map<string, NodeInfo>): string[] {
  const out: string[] = []
  for (const [path, want] of expected) {
    const got = actual.get(path)
    if (got === undefined) {
      out.push(`missing /${path}`)
      continue
    }
    const a = JSON.stringify(want)
    const b = JSON.stringify(got)
    if (a !== b) out.push(`/${path}: expected ${a}, got ${b}`)
  }
  for (const path of actual.keys()) if (!expected.has(path)) out.push(`unexpected /${path}`)
  return out
}
