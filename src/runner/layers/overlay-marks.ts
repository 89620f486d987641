/**
 * What a layer unpacked on its own into a directory of overlayfs's lower stack needs beyond its entries
 * (docs/architecture.md "Layer cache"): OCI whiteouts (docs/formats.md "OCI layers") become overlayfs's
 * (docs/formats.md "overlayfs"):
 * - `.wh.<name>` -> a character device 0/0 at `<name>`, made only when a lower layer has `<name>`;
 * - `.wh..wh..opq`, and a directory that replaces a whiteout of the same layer -> the xattr
 *   `trusted.overlay.opaque=y` on the directory (Node cannot set xattrs: `setfattr` from Debian's `attr`);
 * - a directory this layer only implies (a parent of its entries, with no entry of its own) takes the owner,
 *   mode and times the layers below give it, as it keeps them when the layers are applied onto one tree;
 * - a hard link to a file of a lower layer copies that file up first.
 * Paths in the lower layers are resolved inside each layer (secure-join.ts), never through the host.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, lstatSync, readlinkSync, symlinkSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { isErrno } from '../../util/errors.ts'
import { applyMeta, makeNode } from '../metadata.ts'
import { joinRel, resolveInRootSync, splitName } from '../secure-join.ts'

export const OPAQUE_XATTR = 'trusted.overlay.opaque'

function lstatQuiet (path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    if (isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return undefined
    throw err
  }
}

/** An overlayfs whiteout: a character device with device number 0/0. */
export function isOverlayWhiteout (info: Stats | undefined): boolean {
  return info?.isCharacterDevice() === true && info.rdev === 0
}

export class OverlayMarks {
  private readonly root: string
  /** The unpacked layers below, the nearest first. */
  private readonly lowers: readonly string[]

  constructor (root: string, lowers: readonly string[]) {
    this.root = root
    this.lowers = lowers
  }

  /** What the layers below show at `rel` (relative, cleaned): undefined when nothing or a whiteout. */
  lower (rel: string): { path: string, info: Stats } | undefined {
    const { parent, base } = splitName(rel)
    for (const lower of this.lowers) {
      const path = join(lower, joinRel(resolveInRootSync(lower, parent), base))
      const info = lstatQuiet(path)
      if (info === undefined) continue
      if (isOverlayWhiteout(info)) return undefined
      return { path, info }
    }
    return undefined
  }

  /** Gives a directory this layer created without an entry the owner, mode and times it has below. */
  adoptLower (rel: string, chown: boolean): { atime: Date, mtime: Date } | undefined {
    const below = this.lower(rel)
    if (below?.info.isDirectory() !== true) return undefined
    const { uid, gid, mode, atime, mtime } = below.info
    applyMeta(join(this.root, rel), { uid, gid, mode: mode & 0o7777, atime, mtime }, { isSymlink: false, chown })
    return { atime, mtime }
  }

  /** Hides `rel` of the layers below; false when they have nothing there (so no whiteout is needed). */
  async whiteout (rel: string): Promise<boolean> {
    if (this.lower(rel) === undefined) return false
    await makeNode(join(this.root, rel), 'character-device', 0, 0)
    return true
  }

  /** Marks the directory `rel` of this layer opaque: nothing of the layers below shows through it. */
  opaque (rel: string): void {
    execFileSync('setfattr', ['-n', OPAQUE_XATTR, '-v', 'y', '--', rel === '' ? this.root : join(this.root, rel)], { timeout: 10_000, stdio: 'ignore' })
  }

  /**
   * Copies the file or symlink at `rel` of the layers below into this layer (for a hard link to it); false when
   * there is none (the link then fails as a link to nothing does).
   */
  copyUp (rel: string, chown: boolean): boolean {
    const below = this.lower(rel)
    const isSymlink = below?.info.isSymbolicLink() === true
    if (below === undefined || !(below.info.isFile() || isSymlink)) return false
    const target = join(this.root, rel)
    if (isSymlink) symlinkSync(readlinkSync(below.path), target)
    else copyFileSync(below.path, target)
    const { uid, gid, mode, atime, mtime } = below.info
    applyMeta(target, { uid, gid, mode: mode & 0o7777, atime, mtime }, { isSymlink, chown })
    return true
  }
}
