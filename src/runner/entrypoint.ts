/**
 * Finds the process's executable the way runc will (it calls Go's exec.LookPath inside the container, with
 * the container's PATH): a name with a slash is a path (relative to cwd), a bare name is searched in PATH.
 * Checking before `runc run` turns runc's late "exec: no such file" into EntrypointNotFoundError.
 */
import { lstat, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join, posix } from 'node:path'
import { EmergenceError, isErrno } from '../util/errors.ts'
import { EntrypointNotFoundError } from './errors.ts'
import { resolveInRoot } from './secure-join.ts'
import { getEnv, type RuntimeSpec } from './spec.ts'

/** A host directory or file mounted at `destination` in the container. */
export interface BindMount {
  destination: string
  source: string
}

function bindFor (path: string, binds: BindMount[]): BindMount | undefined {
  let best: BindMount | undefined
  for (const bind of binds) {
    const dest = bind.destination.replace(/\/+$/, '')
    if ((path === dest || path.startsWith(dest + '/')) && dest.length > (best?.destination.length ?? -1)) best = { ...bind, destination: dest }
  }
  return best
}

async function statOrUndefined (path: string, follow: boolean): Promise<Stats | undefined> {
  try {
    return follow ? await stat(path) : await lstat(path)
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return undefined
    throw err
  }
}

/**
 * What the container would see at the absolute `path`: bind mounts first (their host side, symlinks followed
 * on the host), else the rootfs with symlinks resolved inside it.
 */
export async function statInContainer (rootfs: string, path: string, binds: BindMount[] = []): Promise<Stats | undefined> {
  const direct = bindFor(path, binds)
  if (direct !== undefined) return await statOrUndefined(direct.source + path.slice(direct.destination.length), true)
  let resolved: string
  try {
    resolved = '/' + await resolveInRoot(rootfs, path)
  } catch (err) {
    if (err instanceof EmergenceError) return undefined // a symlink loop
    throw err
  }
  const viaLink = bindFor(resolved, binds)
  if (viaLink !== undefined) return await statOrUndefined(viaLink.source + resolved.slice(viaLink.destination.length), true)
  return await statOrUndefined(join(rootfs, resolved), false)
}

function isExecutableFile (info: Stats | undefined): boolean {
  return info !== undefined && info.isFile() && (info.mode & 0o111) !== 0
}

/**
 * The container path of `arg0`, searched like exec.LookPath; throws EntrypointNotFoundError.
 */
export async function findExecutable (rootfs: string, arg0: string, env: string[], cwd: string, binds: BindMount[] = []): Promise<string> {
  if (arg0 === '') throw new EntrypointNotFoundError(arg0, 'the command is empty')
  if (arg0.includes('/')) {
    const path = posix.resolve(cwd, arg0)
    const info = await statInContainer(rootfs, path, binds)
    if (info === undefined) throw new EntrypointNotFoundError(arg0, `${path} does not exist`)
    if (!isExecutableFile(info)) throw new EntrypointNotFoundError(arg0, `${path} is not an executable file`)
    return path
  }
  const searchPath = getEnv(env, 'PATH') ?? ''
  for (const dir of searchPath.split(':')) {
    const candidate = posix.resolve(cwd, dir === '' ? '.' : dir, arg0)
    if (isExecutableFile(await statInContainer(rootfs, candidate, binds))) return candidate
  }
  throw new EntrypointNotFoundError(arg0, `no executable of that name in PATH=${searchPath}`)
}

/** Checks the spec's first argument; `binds` are the bind mounts the container will have. */
export async function checkEntrypoint (rootfs: string, spec: RuntimeSpec, binds: BindMount[] = []): Promise<string> {
  return await findExecutable(rootfs, spec.process.args[0] ?? '', spec.process.env, spec.process.cwd, binds)
}

/** The bind mounts of a spec, for checkEntrypoint. */
export function bindMountsOf (spec: RuntimeSpec): BindMount[] {
  return spec.mounts.flatMap(m => m.type === 'bind' && m.source !== undefined ? [{ destination: m.destination, source: m.source }] : [])
}
