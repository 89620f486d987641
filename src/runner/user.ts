/**
 * The image config's `User` (docs/formats.md "Manifests, indexes and configs": `user`, `uid`, `user:group`,
 * `uid:gid`, `uid:group`, `user:gid`) resolved against the rootfs's /etc/passwd and /etc/group, with the semantics of
 * runc/moby's `user.GetExecUser`: a number is a uid even without a passwd entry, a name must exist, a named user gets
 * its primary group and the supplementary groups that list it unless a group is given.
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../util/errors.ts'
import { UserNotFoundError } from './errors.ts'
import { resolveInRoot } from './secure-join.ts'

export interface ExecUser {
  uid: number
  gid: number
  additionalGids: number[]
  /** The passwd entry's home directory, when there is one. */
  home?: string
}

interface PasswdEntry { name: string, uid: number, gid: number, home: string }
interface GroupEntry { name: string, gid: number, members: string[] }

/** /etc/passwd and /etc/group larger than this are not read (they are text files of a few KiB). */
const MAX_DB_BYTES = 4 * 1024 * 1024
const MAX_ID = 2 ** 31 - 1

function parseId (value: string): number | undefined {
  if (!/^[0-9]+$/.test(value)) return undefined
  const id = Number(value)
  return id <= MAX_ID ? id : undefined
}

export function parsePasswd (text: string): PasswdEntry[] {
  return text.split('\n').flatMap(line => {
    const fields = line.trim().split(':')
    const uid = parseId(fields[2] ?? '')
    const gid = parseId(fields[3] ?? '')
    if (line.startsWith('#') || fields.length < 4 || uid === undefined || gid === undefined) return []
    return [{ name: fields[0] ?? '', uid, gid, home: fields[5] ?? '' }]
  })
}

export function parseGroup (text: string): GroupEntry[] {
  return text.split('\n').flatMap(line => {
    const fields = line.trim().split(':')
    const gid = parseId(fields[2] ?? '')
    if (line.startsWith('#') || fields.length < 3 || gid === undefined) return []
    return [{ name: fields[0] ?? '', gid, members: (fields[3] ?? '').split(',').filter(m => m !== '') }]
  })
}

/** Reads a file of the rootfs, resolving symlinks inside it; undefined when absent. */
export async function readRootfsFile (rootfs: string, path: string, maxBytes = MAX_DB_BYTES): Promise<string | undefined> {
  const resolved = join(rootfs, await resolveInRoot(rootfs, path))
  let handle
  try {
    handle = await open(resolved, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return undefined
    throw err
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) return undefined
    const buffer = Buffer.alloc(Math.min(info.size, maxBytes))
    const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, 0)
    return buffer.subarray(0, bytesRead).toString('utf8')
  } finally {
    await handle.close()
  }
}

/** Resolves `spec` with the given passwd/group texts (undefined: the file is absent). */
export function resolveUserFrom (spec: string, passwdText: string | undefined, groupText: string | undefined): ExecUser {
  const colon = spec.indexOf(':')
  const userArg = colon === -1 ? spec : spec.slice(0, colon)
  const groupArg = colon === -1 ? '' : spec.slice(colon + 1)
  const passwd = parsePasswd(passwdText ?? '')
  const groups = parseGroup(groupText ?? '')
  const user: ExecUser = { uid: 0, gid: 0, additionalGids: [] }

  const uidArg = parseId(userArg)
  const match = passwd.find(p => userArg === '' ? p.uid === 0 : uidArg !== undefined ? p.uid === uidArg : p.name === userArg)
  if (match !== undefined) {
    Object.assign(user, { uid: match.uid, gid: match.gid, home: match.home })
  } else if (userArg !== '') {
    if (uidArg === undefined) throw new UserNotFoundError(spec, `no user ${JSON.stringify(userArg)} in /etc/passwd`)
    user.uid = uidArg
  }

  if (groupArg !== '') {
    const gidArg = parseId(groupArg)
    const group = groups.find(g => gidArg !== undefined ? g.gid === gidArg : g.name === groupArg)
    if (group !== undefined) user.gid = group.gid
    else if (gidArg !== undefined) user.gid = gidArg
    else throw new UserNotFoundError(spec, `no group ${JSON.stringify(groupArg)} in /etc/group`)
  } else if (match !== undefined) {
    // Supplementary groups only in the implicit form, as runc does.
    user.additionalGids = groups.filter(g => g.members.includes(match.name)).map(g => g.gid)
  }
  return user
}

/** Resolves `spec` (the image's User; '' = root) against the rootfs's /etc/passwd and /etc/group. */
export async function resolveUser (rootfs: string, spec: string): Promise<ExecUser> {
  const passwd = await readRootfsFile(rootfs, '/etc/passwd')
  const group = await readRootfsFile(rootfs, '/etc/group')
  return resolveUserFrom(spec, passwd, group)
}
