/**
 * Ownership, modes and times of unpacked entries, in umoci's order (docs/formats.md "OCI layers"): lchown, then chmod (never on a
 * symlink; after chown because chown clears setuid/setgid), then lutimes. Device nodes and fifos need mknod(2),
 * which Node lacks, so we run `mknod(1)`.
 */
import { execFile } from 'node:child_process'
import { chmodSync, lchownSync, lutimesSync } from 'node:fs'
import { promisify } from 'node:util'
import type { Header } from 'tar-stream'

const execFileAsync = promisify(execFile)

export interface EntryMeta {
  uid: number
  gid: number
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number
  mtime: Date
  atime: Date
}

function paxNumber (pax: Record<string, string> | undefined, key: string): number | undefined {
  const value = pax?.[key]
  if (value === undefined) return undefined
  const parsed = Number(value)
  return Number.isFinite(parsed) ? parsed : undefined
}

/** The metadata of a tar header, with PAX records (uid, gid, mtime, atime with sub-second precision) winning. */
export function entryMeta (header: Header): EntryMeta {
  const pax = (header.pax ?? undefined) as Record<string, string> | undefined
  const mtimeSeconds = paxNumber(pax, 'mtime')
  const mtime = mtimeSeconds !== undefined ? new Date(mtimeSeconds * 1000) : header.mtime
  const atimeSeconds = paxNumber(pax, 'atime')
  return {
    uid: paxNumber(pax, 'uid') ?? header.uid,
    gid: paxNumber(pax, 'gid') ?? header.gid,
    mode: header.mode & 0o7777,
    mtime,
    atime: atimeSeconds !== undefined ? new Date(atimeSeconds * 1000) : mtime
  }
}

/** True when the `SCHILY.xattr.*` PAX records carry extended attributes (which Node cannot set). */
export function hasXattrs (header: Header): boolean {
  const pax = header.pax as Record<string, string> | null | undefined
  return pax != null && Object.keys(pax).some(key => key.startsWith('SCHILY.xattr.'))
}

/** Applies owner, mode and times to `path` (never following a final symlink). */
export function applyMeta (path: string, meta: EntryMeta, options: { isSymlink: boolean, chown: boolean }): void {
  if (options.chown) lchownSync(path, meta.uid, meta.gid)
  if (!options.isSymlink) chmodSync(path, meta.mode)
  lutimesSync(path, meta.atime, meta.mtime)
}

/** Creates a character device, block device or fifo with mknod(1); needs root (CAP_MKNOD). */
export async function makeNode (path: string, type: 'character-device' | 'block-device' | 'fifo', major: number, minor: number): Promise<void> {
  const args = type === 'fifo'
    ? [path, 'p']
    : [path, type === 'character-device' ? 'c' : 'b', String(major), String(minor)]
  // `--` keeps a path starting with `-` from being read as an option (paths here are absolute anyway).
  await execFileAsync('mknod', ['--', ...args], { timeout: 10_000 })
}
