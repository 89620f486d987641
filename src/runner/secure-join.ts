/**
 * Paths inside a rootfs, resolved the way umoci resolves them (specs.md §2, after filepath-securejoin): a tar name
 * is cleaned as `Clean("/" + name)`, then its parent is walked component by component through symlinks *inside*
 * the root: an absolute link target restarts at the root, `..` stops at the root, more than 255 links is an
 * error. The last component is never followed by the unpacker, so no entry can reach outside the root.
 */
import { lstatSync, readlinkSync } from 'node:fs'
import { posix } from 'node:path'
import { isErrno } from '../util/errors.ts'
import { InvalidLayerError } from './errors.ts'

/** Symlinks followed while resolving one path before giving up (filepath-securejoin's limit). */
export const MAX_SYMLINKS = 255

/**
 * `Clean("/" + name)` without the leading slash: `../../x` -> `x`, `/etc/x` -> `etc/x`, `./` -> `` (the root).
 */
export function cleanEntryName (name: string): string {
  return posix.resolve('/', name).slice(1)
}

/** Splits a cleaned relative path into parent and last component; the parent of a top-level name is ``. */
export function splitName (rel: string): { parent: string, base: string } {
  const slash = rel.lastIndexOf('/')
  return slash === -1 ? { parent: '', base: rel } : { parent: rel.slice(0, slash), base: rel.slice(slash + 1) }
}

export function joinRel (parent: string, base: string): string {
  return parent === '' ? base : `${parent}/${base}`
}

function components (path: string): string[] {
  return path.split('/').filter(part => part !== '' && part !== '.')
}

function notFound (err: unknown): boolean {
  return isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')
}

/**
 * Resolves `unsafePath` (relative or absolute, read as inside `root`) through every symlink, the last
 * component included, and returns the path relative to `root` (`` for the root itself). Components that do not
 * exist are taken as they are. Throws InvalidLayerError (ELOOP) after MAX_SYMLINKS links. Synchronous: each
 * step is one lstat of a local path, and the unpacker runs in a worker thread.
 */
export function resolveInRootSync (root: string, unsafePath: string): string {
  const queue = components(unsafePath)
  const resolved: string[] = []
  let links = 0
  while (queue.length > 0) {
    const part = queue.shift() as string
    if (part === '..') {
      // `..` of the root is the root: the walk can never climb out.
      resolved.pop()
      continue
    }
    resolved.push(part)
    const full = posix.join(root, ...resolved)
    if (!isSymlink(full)) continue
    if (++links > MAX_SYMLINKS) throw new InvalidLayerError(unsafePath, `more than ${MAX_SYMLINKS} symlinks (ELOOP)`)
    const target = readlinkSync(full)
    resolved.pop()
    if (target.startsWith('/')) resolved.length = 0
    queue.unshift(...components(target))
  }
  return resolved.join('/')
}

/** resolveInRootSync for callers on the main thread (user and entrypoint lookups: a handful of paths). */
export async function resolveInRoot (root: string, unsafePath: string): Promise<string> {
  return resolveInRootSync(root, unsafePath)
}

function isSymlink (path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true
  } catch (err) {
    if (notFound(err)) return false
    throw err
  }
}

/**
 * Resolves parent directories for the unpacker, with a cache: an unpack asks for the same few directories
 * thousands of times. Anything that removes a path or creates a link must call `invalidate()`, because it can
 * change how later names resolve; creating plain files and directories cannot.
 */
export class DirResolver {
  private readonly root: string
  private readonly cache = new Map<string, string>()

  constructor (root: string) {
    this.root = root
  }

  /** The directory `rel` (cleaned, relative) resolved inside the root, as a path relative to the root. */
  resolve (rel: string): string {
    if (rel === '') return ''
    const cached = this.cache.get(rel)
    if (cached !== undefined) return cached
    const resolved = resolveInRootSync(this.root, rel)
    if (this.cache.size > 100_000) this.cache.clear()
    this.cache.set(rel, resolved)
    return resolved
  }

  invalidate (): void {
    this.cache.clear()
  }
}
