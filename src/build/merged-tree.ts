/**
 * The rootfs an image's layers make, built from their tar headers alone (no file is written): what `image
 * squash` writes as one layer. Each entry is applied as the runner's unpacker applies it to a disk
 * (runner/layer-apply.ts, umoci's semantics, docs/formats.md "OCI layers"), so the squashed layer unpacks to the
 * same tree:
 * - names are cleaned and their parent resolved through the symlinks of the tree, inside the root;
 * - `.wh.<name>` removes `<name>` and `.wh..wh..opq` empties its directory, of what lower layers put there only
 *   (paths this layer wrote, and their ancestors, stay);
 * - an existing path is replaced unless both it and the entry are directories (then only its metadata changes);
 * - a hard link names the node its target is at that moment (a later file at the target is another node), and
 *   takes no metadata of its own; a missing parent is created as a 0755 directory of 0:0.
 * Owners and modes come from the headers (PAX records winning, runner/metadata.ts), never from a disk, so the
 * same layers give the same tree whoever squashes them.
 */
import type { Header } from 'tar-stream'
import { InvalidLayerError } from '../runner/errors.ts'
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../runner/layer-apply.ts'
import { entryMeta } from '../runner/metadata.ts'
import { cleanEntryName, components, followSymlinks, joinRel, splitName } from '../runner/secure-join.ts'
import type { Owner } from './settings.ts'

export interface NodeMeta extends Owner {
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number
}

export type LeafType = 'file' | 'symlink' | 'fifo' | 'character-device' | 'block-device'

/** A non-directory node; several names share it when hard links point at it. */
export interface Inode {
  type: LeafType
  meta: NodeMeta
  linkname?: string
  devmajor?: number
  devminor?: number
  size: number
  /** The layer and the entry (both counted from 0) that created it: where a file's bytes are. */
  layer: number
  entry: number
  /** The name it was created under. */
  origin: string
  /** The names it has in the tree now. */
  names: Set<string>
}

export interface DirNode {
  kind: 'dir'
  /** undefined: created for an entry below it, never described by an entry of its own. */
  meta: NodeMeta | undefined
  children: Map<string, TreeNode>
}

export interface LeafNode {
  kind: 'leaf'
  inode: Inode
}

export type TreeNode = DirNode | LeafNode

/** What the unpacker gives a directory no entry describes (mkdir 0777 under umask 022, as root). */
export const IMPLICIT_DIR: NodeMeta = { uid: 0, gid: 0, mode: 0o755 }

function metaOf (header: Header): NodeMeta {
  const { uid, gid, mode } = entryMeta(header)
  return { uid, gid, mode }
}

function compareBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

export class MergedTree {
  readonly root: DirNode = { kind: 'dir', meta: undefined, children: new Map() }
  /** Paths the current layer wrote, and their ancestors. */
  private readonly upper = new Set<string>()
  /** Parent directory -> its resolution; cleared when a removal or a new symlink can change one. */
  private readonly resolved = new Map<string, string>()
  private layer = 0

  /** Starts layer `index` (0 = the lowest). */
  beginLayer (index: number): void {
    this.layer = index
    this.upper.clear()
  }

  /** Applies one entry of the current layer; `entry` is its index in the layer's tar. */
  add (header: Header, entry: number): void {
    const rel = cleanEntryName(header.name)
    if (rel === '') {
      // A non-directory root could be a symlink that later entries would follow out of the rootfs.
      if (header.type !== 'directory') throw new InvalidLayerError(header.name, 'refusing to change the type of the root directory')
      this.root.meta = metaOf(header)
      return
    }
    const { parent, base } = splitName(rel)
    const dirRel = this.resolveDir(parent, header.name)
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(dirRel, base, header.name)
      return
    }
    const path = joinRel(dirRel, base)
    const existing = this.lookup(path)
    if (existing?.kind === 'dir' && header.type === 'directory') {
      existing.meta = metaOf(header)
    } else {
      if (existing !== undefined) this.remove(path)
      this.create(this.ensureDir(dirRel, header.name), path, base, header, entry)
    }
    for (let p = path; p !== '' && !this.upper.has(p); p = splitName(p).parent) this.upper.add(p)
  }

  /** Every node but the root, depth-first, children in the byte order of their names. */
  * walk (dir: DirNode = this.root, prefix = ''): Generator<{ path: string, node: TreeNode }> {
    for (const name of [...dir.children.keys()].sort(compareBytes)) {
      const node = dir.children.get(name) as TreeNode
      const path = joinRel(prefix, name)
      yield { path, node }
      if (node.kind === 'dir') yield * this.walk(node, path)
    }
  }

  /** The node at `path` (resolved, relative), without following anything. */
  lookup (path: string): TreeNode | undefined {
    let node: TreeNode = this.root
    for (const part of components(path)) {
      if (node.kind !== 'dir') return undefined
      const child: TreeNode | undefined = node.children.get(part)
      if (child === undefined) return undefined
      node = child
    }
    return node
  }

  private create (dir: DirNode, path: string, base: string, header: Header, entry: number): void {
    const common = { meta: metaOf(header), size: 0, layer: this.layer, entry, origin: path, names: new Set<string>() }
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        this.bind(dir, path, base, { ...common, type: 'file', size: header.size ?? 0 })
        return
      case 'directory':
        dir.children.set(base, { kind: 'dir', meta: common.meta, children: new Map() })
        return
      case 'symlink':
        this.bind(dir, path, base, { ...common, type: 'symlink', linkname: header.linkname ?? '' })
        return
      case 'link':
        this.bind(dir, path, base, this.linkTarget(header))
        return
      case 'fifo':
      case 'character-device':
      case 'block-device':
        this.bind(dir, path, base, { ...common, type: header.type, devmajor: header.devmajor ?? 0, devminor: header.devminor ?? 0 })
        return
      default:
        throw new InvalidLayerError(header.name, `unsupported entry type ${String(header.type)}`)
    }
  }

  /** The node a hard link names: its target's parent resolved in the tree, the last component not followed. */
  private linkTarget (header: Header): Inode {
    const target = cleanEntryName(header.linkname ?? '')
    const { parent, base } = splitName(target)
    const node = this.lookup(joinRel(this.resolveDir(parent, header.name), base))
    if (node === undefined) throw new InvalidLayerError(header.name, `hard link target ${JSON.stringify(header.linkname)} does not exist`)
    if (node.kind === 'dir') throw new InvalidLayerError(header.name, `cannot hard link to ${JSON.stringify(header.linkname)}`)
    return node.inode
  }

  private bind (dir: DirNode, path: string, base: string, inode: Inode): void {
    dir.children.set(base, { kind: 'leaf', inode })
    inode.names.add(path)
    if (inode.type === 'symlink') this.resolved.clear()
  }

  /** Resolves the directory `rel` through the tree's symlinks, inside the root (runner/secure-join.ts). */
  private resolveDir (rel: string, name: string): string {
    const known = this.resolved.get(rel)
    if (known !== undefined) return known
    const resolved: string[] = []
    followSymlinks(resolved, components(rel), parts => {
      const node = this.lookup(parts.join('/'))
      return node?.kind === 'leaf' && node.inode.type === 'symlink' ? node.inode.linkname ?? '' : undefined
    }, name)
    const out = resolved.join('/')
    this.resolved.set(rel, out)
    return out
  }

  /** The directory `path` (resolved), created with its missing ancestors. */
  private ensureDir (path: string, name: string): DirNode {
    let dir = this.root
    for (const part of components(path)) {
      let child = dir.children.get(part)
      if (child === undefined) {
        child = { kind: 'dir', meta: undefined, children: new Map() }
        dir.children.set(part, child)
      }
      if (child.kind !== 'dir') throw new InvalidLayerError(name, `its parent ${JSON.stringify(path)} is not a directory`)
      dir = child
    }
    return dir
  }

  /** Removes `path` and everything under it. */
  private remove (path: string): void {
    const { parent, base } = splitName(path)
    const dir = this.lookup(parent)
    const node = dir?.kind === 'dir' ? dir.children.get(base) : undefined
    if (dir?.kind !== 'dir' || node === undefined) return
    const forget = (n: TreeNode, p: string): void => {
      if (n.kind === 'leaf') n.inode.names.delete(p)
      else for (const [childName, child] of n.children) forget(child, joinRel(p, childName))
    }
    forget(node, path)
    dir.children.delete(base)
    this.resolved.clear()
  }

  private whiteout (dirRel: string, base: string, name: string): void {
    if (base === OPAQUE_WHITEOUT) {
      this.removeLower(dirRel, true)
      return
    }
    const victim = base.slice(WHITEOUT_PREFIX.length)
    if (victim === '' || victim === '.' || victim === '..') throw new InvalidLayerError(name, 'a whiteout must name a file (bare .wh.)')
    this.removeLower(joinRel(dirRel, victim), false)
  }

  /** Removes `path` unless this layer wrote it; of what it wrote, looks at the children (`keep`: the opaque directory). */
  private removeLower (path: string, keep: boolean): void {
    const node = this.lookup(path)
    if (node === undefined) return
    if (!keep && !this.upper.has(path)) {
      this.remove(path)
      return
    }
    if (node.kind !== 'dir') return
    for (const child of [...node.children.keys()]) this.removeLower(joinRel(path, child), false)
  }
}
