/**
 * Applies the entries of one layer tar to a rootfs, with umoci's semantics (docs/formats.md "OCI layers"; umoci
 * oci/layer/tar_extract.go):
 * - names are cleaned and their parent resolved inside the root (secure-join.ts); the last component is never
 *   followed, so nothing outside the root is ever created, changed or removed;
 * - `.wh.<name>` removes `<name>` and `.wh..wh..opq` empties its directory, but only of what lower layers put
 *   there: paths written by this layer (and their ancestors) are kept in `upper`, which makes an opaque whiteout
 *   act before the layer's other entries wherever it stands in the tar; whiteouts never become files;
 * - an existing path is replaced unless both it and the entry are directories (then only attributes change);
 * - metadata in the order lchown, chmod (not on symlinks), lutimes; hard links take none of their own;
 * - a directory keeps the times its header gave it (or had before the layer) even after children are added,
 *   as umoci restores a parent's metadata after each entry: we restore once, in `finish()`;
 * - an entry's path (and a link's target) is checked against PATH_MAX and the depth limit before anything is
 *   created for it (unpack-limits.ts); a full disk ends in InsufficientSpaceError.
 * File system calls are synchronous on purpose: the unpacker runs in a worker thread (unpack-worker.ts), where
 * a direct syscall costs microseconds and a thread-pool round trip per call would cost more than the call.
 */
import { linkSync, lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Header } from 'tar-stream'
import type { Logger } from '../util/logger.ts'
import { EmergenceError, isErrno } from '../util/errors.ts'
import { EntryPathError, InvalidLayerError, UnpackError } from './errors.ts'
import { applyMeta, entryMeta, hasXattrs, makeNode, type EntryMeta } from './metadata.ts'
import { DirResolver, cleanEntryName, joinRel, splitName } from './secure-join.ts'
import { PATH_MAX, type UnpackBudget } from './unpack-limits.ts'
import { drain, lstatOrUndefined, writeRegular, type EntryBody } from './entry-files.ts'
import { isOverlayWhiteout, OverlayMarks } from './layers/overlay-marks.ts'

/** Whiteouts: docs/formats.md "OCI layers". */
export const WHITEOUT_PREFIX = '.wh.'
export const OPAQUE_WHITEOUT = '.wh..wh..opq'

export interface ApplierOptions {
  logger: Logger
  /** Root can lchown and mknod; without it owners stay ours and device nodes are skipped with a warning. */
  privileged: boolean
  /** Path limits, and the free-space reserve a failed write is reported against. */
  budget: UnpackBudget
  /**
   * Unpack the layer on its own, as one directory of an overlayfs stack over these (the nearest first):
   * whiteouts become overlayfs's (layers/overlay-marks.ts). Default: apply onto the tree of the layers below.
   */
  lowers?: readonly string[]
}

interface Times {
  atime: Date
  mtime: Date
}



export class LayerApplier {
  private readonly root: string
  private readonly logger: Logger
  private readonly privileged: boolean
  private readonly budget: UnpackBudget
  private readonly resolver: DirResolver
  /** Paths (relative, symlink-resolved) this layer wrote, and all their ancestors. */
  private readonly upper = new Set<string>()
  /** Directory times to put back at the end of the layer. */
  private readonly dirTimes = new Map<string, Times>()
  /** Directories known to exist; cleared whenever anything is removed. */
  private readonly knownDirs = new Set<string>([''])
  private xattrWarned = false
  private readonly marks: OverlayMarks | undefined

  constructor (root: string, options: ApplierOptions) {
    this.root = root
    this.logger = options.logger
    this.privileged = options.privileged
    this.budget = options.budget
    this.resolver = new DirResolver(root)
    this.marks = options.lowers !== undefined ? new OverlayMarks(root, options.lowers) : undefined
  }

  private abs (rel: string): string {
    return rel === '' ? this.root : join(this.root, rel)
  }

  /** Applies one entry; `body` is always consumed. */
  async apply (header: Header, body: EntryBody): Promise<void> {
    try {
      await this.applyEntry(header, body)
      await drain(body)
    } catch (err) {
      if (err instanceof EmergenceError) throw err
      if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) throw this.budget.noSpace(err)
      throw new UnpackError(header.name, err)
    }
  }

  /** Puts back directory times changed by adding or removing children. Call once after the last entry. */
  finish (): void {
    for (const [rel, times] of this.dirTimes) {
      const info = lstatOrUndefined(this.abs(rel))
      if (info?.isDirectory() === true) lutimesSync(this.abs(rel), times.atime, times.mtime)
    }
  }

  private async applyEntry (header: Header, body: EntryBody): Promise<void> {
    if (hasXattrs(header) && !this.xattrWarned) {
      this.xattrWarned = true
      this.logger.warn(`extended attributes in layer entries are not restored (first: ${header.name})`)
    }
    const rel = cleanEntryName(header.name)
    this.budget.checkPath(rel, header.name)
    if (rel === '') {
      this.applyRoot(header)
      return
    }
    const { parent, base } = splitName(rel)
    const dirRel = this.resolver.resolve(parent)
    this.rememberDir(dirRel)
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (this.marks !== undefined) await this.overlayWhiteout(this.marks, dirRel, base, header.name)
      else this.whiteout(dirRel, base, header.name)
      return
    }
    const relPath = joinRel(dirRel, base)
    // Symlinks in the parent can make the path on disk longer or deeper than the name: check that one too.
    this.budget.checkPath(relPath, header.name)
    const path = this.abs(relPath)
    const existing = lstatOrUndefined(path)
    if (existing !== undefined && !(existing.isDirectory() && header.type === 'directory')) {
      rmSync(path, { recursive: true, force: true })
      this.invalidate()
    }
    this.ensureDir(dirRel)
    const meta = entryMeta(header)
    const created = await this.create(header, body, path, relPath, existing?.isDirectory() === true)
    if (!created) return
    // A directory in place of this layer's whiteout must hide what the layers below have there.
    if (header.type === 'directory' && isOverlayWhiteout(existing)) this.marks?.opaque(relPath)
    if (header.type !== 'link') {
      applyMeta(path, meta, { isSymlink: header.type === 'symlink', chown: this.privileged })
    }
    if (header.type === 'directory') this.dirTimes.set(relPath, { atime: meta.atime, mtime: meta.mtime })
    for (let p = relPath; p !== '' && !this.upper.has(p); p = splitName(p).parent) this.upper.add(p)
  }

  /** Creates the node for `header` at `path` (which does not exist, or is a directory kept for a directory). */
  private async create (header: Header, body: EntryBody, path: string, relPath: string, keptDir: boolean): Promise<boolean> {
    switch (header.type) {
      case 'file':
        await writeRegular(path, body)
        return true
      case 'directory':
        if (!keptDir) mkdirSync(path, { mode: 0o777 })
        this.knownDirs.add(relPath)
        return true
      case 'symlink':
        if (Buffer.byteLength(header.linkname ?? '') >= PATH_MAX) throw new EntryPathError(header.name, `its symlink target is longer than PATH_MAX (${PATH_MAX})`)
        symlinkSync(header.linkname ?? '', path)
        this.invalidate()
        return true
      case 'link':
        this.hardLink(header, path)
        return true
      case 'character-device':
      case 'block-device':
      case 'fifo':
        if (!this.privileged) {
          this.logger.warn(`skipping ${header.type} ${header.name}: creating device nodes and fifos needs root`)
          return false
        }
        await makeNode(path, header.type, header.devmajor ?? 0, header.devminor ?? 0)
        return true
      default:
        throw new InvalidLayerError(header.name, `unsupported entry type ${String(header.type)}`)
    }
  }

  /** Creates the directory `dirRel` and its missing ancestors (taking their metadata from below in overlay mode). */
  private ensureDir (dirRel: string): void {
    if (this.knownDirs.has(dirRel)) return
    const first = mkdirSync(this.abs(dirRel), { recursive: true, mode: 0o777 })
    const created = first?.slice(this.root.length + 1)
    let existedBelow = false
    if (created !== undefined && this.marks !== undefined) {
      for (let rel = dirRel; rel.length >= created.length && rel !== ''; rel = splitName(rel).parent) {
        const times = this.marks.adoptLower(rel, this.privileged)
        if (times !== undefined) this.dirTimes.set(rel, times)
        existedBelow = times !== undefined
      }
    }
    // Creating missing ancestors changed a directory that is not this entry's parent: umoci leaves such a
    // change in place, so forget the times we would have put back (a later child records them afresh). In a
    // layer of its own, a directory that exists below was not missing: nothing changed in the merged view.
    if (created !== undefined && !existedBelow) this.dirTimes.delete(splitName(created).parent)
    this.knownDirs.add(dirRel)
  }

  private hardLink (header: Header, path: string): void {
    // The target is a name in the same rootfs: resolve its parent inside the root, never its last component
    // (a hard link to a symlink links the symlink).
    const target = cleanEntryName(header.linkname ?? '')
    this.budget.checkPath(target, header.name)
    const { parent, base } = splitName(target)
    const targetRel = joinRel(this.resolver.resolve(parent), base)
    const targetPath = this.abs(targetRel)
    try {
      if (this.marks !== undefined && lstatOrUndefined(targetPath) === undefined) {
        this.ensureDir(splitName(targetRel).parent)
        this.marks.copyUp(targetRel, this.privileged)
      }
      linkSync(targetPath, path)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new InvalidLayerError(header.name, `hard link target ${JSON.stringify(header.linkname)} does not exist`, err)
      if (isErrno(err, 'EPERM')) throw new InvalidLayerError(header.name, `cannot hard link to ${JSON.stringify(header.linkname)}`, err)
      throw err
    }
    this.invalidate()
  }

  private applyRoot (header: Header): void {
    // A non-directory root could be a symlink that later entries would follow out of the rootfs.
    if (header.type !== 'directory') throw new InvalidLayerError(header.name, 'refusing to change the type of the root directory')
    const meta = entryMeta(header)
    applyMeta(this.root, meta, { isSymlink: false, chown: this.privileged })
    this.dirTimes.set('', { atime: meta.atime, mtime: meta.mtime })
  }

  private rememberDir (dirRel: string): void {
    if (this.dirTimes.has(dirRel)) return
    const info = lstatOrUndefined(this.abs(dirRel))
    if (info?.isDirectory() === true) {
      this.dirTimes.set(dirRel, { atime: info.atime, mtime: info.mtime })
      this.knownDirs.add(dirRel)
    }
  }

  /** A whiteout of a layer unpacked on its own: overlayfs's marks instead of removals. */
  private async overlayWhiteout (marks: OverlayMarks, dirRel: string, base: string, name: string): Promise<void> {
    if (base === OPAQUE_WHITEOUT) {
      this.ensureDir(dirRel)
      marks.opaque(dirRel)
      return
    }
    const victim = base.slice(WHITEOUT_PREFIX.length)
    if (victim === '' || victim === '.' || victim === '..') throw new InvalidLayerError(name, 'a whiteout must name a file (bare .wh.)')
    const rel = joinRel(dirRel, victim)
    const existing = lstatOrUndefined(this.abs(rel))
    // What this layer wrote stays; a directory of it only stops showing what is below.
    if (existing !== undefined) {
      if (existing.isDirectory()) marks.opaque(rel)
      return
    }
    if (marks.lower(rel) === undefined) return
    this.ensureDir(dirRel)
    await marks.whiteout(rel)
  }

  private whiteout (dirRel: string, base: string, name: string): void {
    if (base === OPAQUE_WHITEOUT) {
      this.removeLower(dirRel, dirRel, true)
      return
    }
    const victim = base.slice(WHITEOUT_PREFIX.length)
    if (victim === '' || victim === '.' || victim === '..') throw new InvalidLayerError(name, 'a whiteout must name a file (bare .wh.)')
    this.removeLower(joinRel(dirRel, victim), dirRel, false)
  }

  /**
   * Removes `rel` unless this layer wrote it; for what it wrote, looks at the children (`keep`: the opaque
   * directory itself). `entryDir` is the whiteout's own directory, whose times are put back at the end.
   */
  private removeLower (rel: string, entryDir: string, keep: boolean): void {
    const path = this.abs(rel)
    const info = lstatOrUndefined(path)
    if (info === undefined) return
    if (!keep && !this.upper.has(rel)) {
      rmSync(path, { recursive: true, force: true })
      this.invalidate()
      const parent = splitName(rel).parent
      if (parent !== entryDir) this.dirTimes.delete(parent)
      return
    }
    if (!info.isDirectory()) return
    for (const child of readdirSync(path)) this.removeLower(joinRel(rel, child), entryDir, false)
  }

  private invalidate (): void {
    this.resolver.invalidate()
    this.knownDirs.clear()
    this.knownDirs.add('')
  }
}

export { drain, type EntryBody }
export type { EntryMeta }
