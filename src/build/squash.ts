/**
 * `image squash`: one layer from many, by merging the layers' tar entries, never by unpacking them. A first read
 * of every layer applies its headers to an in-memory tree (merged-tree.ts: whiteouts and opaque directories
 * applied as the unpacker applies them); a second read streams the bytes of the files that survive into the new
 * layer. Owners, modes, link targets and device numbers come from the headers, so any user squashes, without
 * lchown or mknod, to the same bytes as root; mtimes are the build's (SOURCE_DATE_EPOCH or 0), like every built
 * layer. Nothing but the new layer is written to disk.
 *
 * The layer's entries come in four runs, each in a fixed order, so the same image squashes to the same blob:
 * 1. the directories (the root first when a layer described it), depth-first by name: parents before children;
 * 2. the regular files, in the order of the layer and entry that wrote their bytes (the second read's order),
 *    each under its name (or, when that name is gone, the first of its hard links by name);
 * 3. symlinks, fifos and device nodes, depth-first by name;
 * 4. every further name of a node as a hard link to the name it was written under.
 * The layer holds no whiteouts, so the squashed image is a base like any other.
 */
import type { Pack } from 'tar-stream'
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import { loadImage, type ResolvedImage } from '../runner/image.ts'
import type { Store } from '../store/store.ts'
import { ImportTransaction } from '../image/transaction.ts'
import { loadBase } from './build.ts'
import { commitImage, buildRef, type BuiltImage } from './image-writer.ts'
import { readLayerEntries } from './layer-entries.ts'
import { DEFAULT_COMPRESSION, writeLayer, type LayerCompression } from './layer-writer.ts'
import { IMPLICIT_DIR, MergedTree, type Inode } from './merged-tree.ts'
import { putEntry, type EntryHeader } from './pack-entries.ts'
import { sourceDateEpoch } from './settings.ts'

export interface SquashOptions {
  /** `name:tag` */
  tag: string
  compression?: LayerCompression
  epoch?: number
}

function compareBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** The name a node's bytes (or its symlink, device) are written under: where it was created, if it still is. */
function primaryName (inode: Inode): string {
  if (inode.names.has(inode.origin)) return inode.origin
  return [...inode.names].sort(compareBytes)[0] as string
}

interface LayerJob {
  index: number
  descriptor: Descriptor
  diffId: Digest
}

function layerJobs (image: ResolvedImage): LayerJob[] {
  return image.manifest.layers.map((descriptor, index) => ({ index, descriptor, diffId: image.config.rootfs.diff_ids[index] as Digest }))
}

/** The first read: every layer's headers applied to one tree. */
async function mergeHeaders (store: Store, image: ResolvedImage): Promise<MergedTree> {
  const tree = new MergedTree()
  for (const job of layerJobs(image)) {
    tree.beginLayer(job.index)
    await readLayerEntries(store, job.descriptor, job.diffId, async (header, _body, entry) => { tree.add(header, entry) })
  }
  return tree
}

/** Writes the merged tree into `pack` in the four runs above; the file bytes come from a second read. */
async function packTree (pack: Pack, store: Store, image: ResolvedImage, tree: MergedTree, mtime: Date): Promise<void> {
  const nodes = [...tree.walk()]
  if (tree.root.meta !== undefined) await putEntry(pack, { name: './', type: 'directory', ...tree.root.meta, mtime })
  for (const { path, node } of nodes) {
    if (node.kind === 'dir') await putEntry(pack, { name: `${path}/`, type: 'directory', ...(node.meta ?? IMPLICIT_DIR), mtime })
  }
  const leaves = nodes.flatMap(({ path, node }) => node.kind === 'leaf' ? [{ path, inode: node.inode, primary: primaryName(node.inode) }] : [])
  // Run 2: layer -> entry index -> the file whose bytes it holds.
  const files = new Map<number, Map<number, { inode: Inode, primary: string }>>()
  for (const leaf of leaves) {
    if (leaf.inode.type !== 'file' || leaf.path !== leaf.primary) continue
    const byEntry = files.get(leaf.inode.layer) ?? new Map<number, { inode: Inode, primary: string }>()
    byEntry.set(leaf.inode.entry, leaf)
    files.set(leaf.inode.layer, byEntry)
  }
  for (const job of layerJobs(image)) {
    const wanted = files.get(job.index)
    if (wanted === undefined) continue
    await readLayerEntries(store, job.descriptor, job.diffId, async (_header, body, entry) => {
      const file = wanted.get(entry)
      if (file === undefined) return
      await putEntry(pack, { name: file.primary, type: 'file', size: file.inode.size, ...file.inode.meta, mtime }, body)
    })
  }
  for (const { path, inode, primary } of leaves) {
    if (inode.type === 'file' || path !== primary) continue
    const header: EntryHeader = { name: path, type: inode.type, ...inode.meta, mtime }
    // The disk has no mode for a symlink (always 0777): the squashed tree's is the same whatever the header said.
    if (inode.type === 'symlink') await putEntry(pack, { ...header, mode: 0o777, linkname: inode.linkname ?? '' })
    else await putEntry(pack, { ...header, devmajor: inode.devmajor ?? 0, devminor: inode.devminor ?? 0 })
  }
  for (const { path, inode, primary } of leaves) {
    if (path !== primary) await putEntry(pack, { name: path, type: 'link', linkname: primary, ...inode.meta, mtime })
  }
}

export async function squashImage (store: Store, from: string, options: SquashOptions): Promise<BuiltImage> {
  const ref = buildRef(options.tag)
  const base = await loadBase(store, from)
  const image = await loadImage(store, from)
  const epoch = options.epoch ?? sourceDateEpoch()
  const tree = await mergeHeaders(store, image)
  const tx = await ImportTransaction.begin(store)
  return await tx.run(async () => {
    const layer = await writeLayer(store, tx, options.compression ?? DEFAULT_COMPRESSION, async pack => {
      await packTree(pack, store, image, tree, new Date(epoch * 1000))
    })
    const layers = [{ ...layer, createdBy: `emergence image squash: ${image.manifestDescriptor.digest}` }]
    return await commitImage(store, tx, { ref, base, layers, settings: {}, epoch, replaceLayers: true })
  })
}
