/**
 * Bundles for Nix automata (docs/formats.md "Runtime config"): a minimal read-only rootfs of empty directories plus one read-only
 * bind mount (`rbind,ro,nosuid,nodev`) per store path of the closure the caller passes, so the process sees
 * exactly its closure under /nix/store and nothing else of the host store.
 */
import { lstatSync } from 'node:fs'
import { lstat, mkdir, readlink, symlink, writeFile } from 'node:fs/promises'
import { basename, join, posix } from 'node:path'
import { isErrno } from '../util/errors.ts'
import { InvalidRunRequestError } from './errors.ts'
import { processEnv } from './image-spec.ts'
import { applySpecOptions, defaultSpec, hasEnv, setEnv, type Mount, type RuntimeSpec, type SpecOptions } from './spec.ts'
import { resolveUserFrom } from './user.ts'

export const NIX_STORE_DIR = '/nix/store'

/** `/nix/store/<32 nix32 chars>-<name>` (docs/formats.md: nix32 has no e, o, u, t; names of [0-9A-Za-z+-._?=]). */
const STORE_PATH = /^\/nix\/store\/[0-9abcdfghijklmnpqrsvwxyz]{32}-[0-9A-Za-z+\-._?=]{1,211}$/

const ROOTFS_DIRS = ['proc', 'dev', 'sys', 'tmp', 'run', 'etc', 'root', 'nix/store', 'var/tmp']
const PASSWD = 'root:x:0:0:root:/root:/noshell\nnobody:x:65534:65534:nobody:/:/noshell\n'
const GROUP = 'root:x:0:\nnogroup:x:65534:\n'
const BIND_OPTIONS = ['rbind', 'ro', 'nosuid', 'nodev']

export interface ClosureSpecOptions extends SpecOptions {
  /** Every store path the process may see: the closure (`nix-store -qR`) of what it runs. */
  closure: string[]
  /** The command, e.g. `['/nix/store/<h>-hello/bin/hello']`. */
  args: string[]
  /** `NAME=value` entries; PATH defaults to runc's when absent. */
  env?: string[]
  cwd?: string
  /** `uid[:gid]`, or `root` / `nobody`. Default root. */
  user?: string
  /** Where the store paths are on the host (a second "chroot" store holds them elsewhere). Default /nix/store. */
  hostStoreDir?: string
}

export function isStorePath (path: string): boolean {
  return STORE_PATH.test(path) && !basename(path).startsWith('.')
}

export type StorePathKind = 'directory' | 'file' | 'symlink'

/**
 * Validates the closure list: store paths, no duplicates, each present on the host. A store path may itself be
 * a symlink: it is never followed (a bind mount would follow it to wherever it points on the host).
 */
export async function checkClosure (closure: string[], hostStoreDir = NIX_STORE_DIR): Promise<Map<string, StorePathKind>> {
  const kinds = new Map<string, StorePathKind>()
  for (const path of closure) {
    if (!isStorePath(path)) throw new InvalidRunRequestError(`${JSON.stringify(path)} is not a Nix store path (/nix/store/<hash>-<name>)`)
    if (kinds.has(path)) continue
    try {
      const info = await lstat(join(hostStoreDir, basename(path)))
      kinds.set(path, info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'directory' : 'file')
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new InvalidRunRequestError(`store path ${path} is not on this host (in ${hostStoreDir})`)
      throw err
    }
  }
  return kinds
}

/** The read-only bind mounts of a closure, sorted; store paths that are symlinks are recreated, not mounted. */
export function closureMounts (closure: string[], hostStoreDir = NIX_STORE_DIR): Mount[] {
  const isSymlink = (path: string): boolean => lstatSync(join(hostStoreDir, basename(path)), { throwIfNoEntry: false })?.isSymbolicLink() === true
  return [...new Set(closure)].filter(path => !isSymlink(path)).sort().map(path => ({
    destination: path,
    type: 'bind',
    source: join(hostStoreDir, basename(path)),
    options: [...BIND_OPTIONS]
  }))
}

/**
 * Creates the minimal rootfs at `rootfs` (which must not exist): empty system directories, a tiny /etc with
 * root and nobody, and an empty mountpoint (directory or file, like its store path) for each closure path; a
 * store path that is a symlink becomes the same symlink.
 */
export async function createClosureRootfs (rootfs: string, closure: string[], hostStoreDir = NIX_STORE_DIR): Promise<void> {
  const kinds = await checkClosure(closure, hostStoreDir)
  await mkdir(rootfs, { mode: 0o755 })
  for (const dir of ROOTFS_DIRS) await mkdir(join(rootfs, dir), { recursive: true, mode: 0o755 })
  await writeFile(join(rootfs, 'etc/passwd'), PASSWD)
  await writeFile(join(rootfs, 'etc/group'), GROUP)
  await writeFile(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n')
  for (const [path, kind] of kinds) {
    const mountpoint = join(rootfs, path)
    if (kind === 'directory') await mkdir(mountpoint, { mode: 0o555 })
    else if (kind === 'file') await writeFile(mountpoint, '', { mode: 0o444 })
    // The same link, resolved inside the container's root.
    else await symlink(await readlink(join(hostStoreDir, basename(path))), mountpoint)
  }
}

/** The config.json of a closure bundle created by createClosureRootfs. */
export function closureSpec (options: ClosureSpecOptions): RuntimeSpec {
  if (options.args.length === 0) throw new InvalidRunRequestError('no command to run in the closure')
  const spec = defaultSpec()
  spec.root.readonly = true
  spec.process.args = [...options.args]
  spec.process.env = processEnv([], options.env)
  spec.process.cwd = posix.resolve('/', options.cwd ?? '/')
  const user = resolveUserFrom(options.user ?? '', PASSWD, GROUP)
  spec.process.user = { uid: user.uid, gid: user.gid }
  if (!hasEnv(spec.process.env, 'HOME')) setEnv(spec.process.env, `HOME=${user.home ?? '/'}`)
  // The rootfs is read-only: give the process a writable /tmp.
  spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] })
  spec.mounts.push(...closureMounts(options.closure, options.hostStoreDir))
  applySpecOptions(spec, options)
  return spec
}
