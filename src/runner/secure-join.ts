/**
 * Paths inside a rootfs, resolved the way umoci resolves them (after filepath-securejoin): a tar name
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

/** The non-empty components of a path, `.` dropped (`..` kept: the walkers handle it). */
export function components (path: string): string[] {
  return path.split('/').filter(part => part !== '' && part !== '.')
}

function notFound (err: unknown): boolean {
  return isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')
}

/**
 * Walks `queue` (components) from the resolved components `resolved` (changed in place), following every
 * symlink that `readLink` reports (its target, or undefined for anything else), never climbing above the root;
 * returns how many components it looked up. Throws InvalidLayerError (ELOOP) after MAX_SYMLINKS links. `name` is
 * only for the error. The runner reads links from disk; the squasher (build/merged-tree.ts) from its tree.
 */
export function followSymlinks (resolved: string[], queue: string[], readLink: (resolved: readonly string[]) => string | undefined, name: string): number {
  let links = 0
  let lookups = 0
  while (queue.length > 0) {
    const part = queue.shift() as string
    if (part === '..') {
      // `..` of the root is the root: the walk can never climb out.
      resolved.pop()
      continue
    }
    resolved.push(part)
    lookups++
    const target = readLink(resolved)
    if (target === undefined) continue
    if (++links > MAX_SYMLINKS) throw new InvalidLayerError(name, `more than ${MAX_SYMLINKS} symlinks (ELOOP)`)
    resolved.pop()
    if (target.startsWith('/')) resolved.length = 0
    queue.unshift(...components(target))
  }
  return lookups
}

/** Follows symlinks on disk under `root` (see followSymlinks). */
function walk (root: string, resolved: string[], queue: string[], name: string): number {
  return followSymlinks(resolved, queue, parts => {
    const full = posix.join(root, ...parts)
    return isSymlink(full) ? readlinkSync(full) : undefined
  }, name)
}

/**
 * Resolves `unsafePath` (relative or absolute, read as inside `root`) through every symlink, the last
 * component included, and returns the path relative to `root` (`` for the root itself). Components that do not
 * exist are taken as they are. Throws InvalidLayerError (ELOOP) after MAX_SYMLINKS links. Synchronous: each
 * step is one lstat of a local path, and the unpacker runs in a worker thread.
 */
export function resolveInRootSync (root: string, unsafePath: string): string {
  const resolved: string[] = []
  walk(root, resolved, components(unsafePath), unsafePath)
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
 * thousands of times. A directory not in the cache is resolved from its nearest cached ancestor, one component
 * at a time, and every ancestor on the way is cached: the walk consumes a component's symlinks whole before the
 * next component, so the state after a prefix is that prefix's resolution. A layer of n nested directories so
 * costs n lookups, not n²/2 (each walked from the root). Anything that removes a path or creates a link must call
 * `invalidate()`, because it can change how later names resolve; creating plain files and directories cannot.
 */
export class DirResolver {
  private readonly root: string
  private readonly cache = new Map<string, string>()
  /** Components looked up on disk so far (one lstat each). */
  lookups = 0

  constructor (root: string) {
    this.root = root
  }

  /** The directory `rel` (cleaned, relative) resolved inside the root, as a path relative to the root. */
  resolve (rel: string): string {
    if (rel === '') return ''
    const cached = this.cache.get(rel)
    if (cached !== undefined) return cached
    // Find the nearest cached ancestor; the components after it are walked below.
    const pending: string[] = []
    let prefix = rel
    let start = ''
    while (prefix !== '') {
      const { parent, base } = splitName(prefix)
      pending.push(base)
      prefix = parent
      const hit = this.cache.get(prefix)
      if (hit !== undefined) {
        start = hit
        break
      }
    }
    const resolved = start === '' ? [] : start.split('/')
    for (let i = pending.length - 1; i >= 0; i--) {
      const part = pending[i] as string
      prefix = joinRel(prefix, part)
      this.lookups += walk(this.root, resolved, [part], rel)
      this.remember(prefix, resolved.join('/'))
    }
    return resolved.join('/')
  }

  invalidate (): void {
    this.cache.clear()
  }

  private remember (rel: string, resolved: string): void {
    if (this.cache.size > 100_000) this.cache.clear()
    this.cache.set(rel, resolved)
  }
}
