/**
 * `image squash`: one layer from many. The image is unpacked by our own unpacker (umoci's semantics: whiteouts
 * and opaque directories applied, see runner/layer-apply.ts) into a temp directory under the store's `tmp/`,
 * which is then written as one layer keeping every file's owner, mode, link target and device numbers; mtimes
 * are the build's (SOURCE_DATE_EPOCH or 0), like every built layer. The layer holds no whiteouts, so the
 * squashed image is a base like any other. Keeping owners and device nodes takes lchown and mknod, so squash
 * runs as root (SquashNeedsRootError otherwise).
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadImage } from '../runner/image.ts'
import { unpackRootfs } from '../runner/unpack.ts'
import type { Store } from '../store/store.ts'
import { ImportTransaction } from '../image/transaction.ts'
import { tempName } from '../util/fs.ts'
import { loadBase } from './build.ts'
import { packDirectory } from './dir-source.ts'
import { SquashNeedsRootError } from './errors.ts'
import { commitImage, buildRef, type BuiltImage } from './image-writer.ts'
import { DEFAULT_COMPRESSION, writeLayer, type LayerCompression } from './layer-writer.ts'
import { ROOT_OWNER, sourceDateEpoch } from './settings.ts'

export interface SquashOptions {
  /** `name:tag` */
  tag: string
  compression?: LayerCompression
  epoch?: number
}

export async function squashImage (store: Store, from: string, options: SquashOptions): Promise<BuiltImage> {
  const ref = buildRef(options.tag)
  if (process.getuid?.() !== 0) throw new SquashNeedsRootError()
  const base = await loadBase(store, from)
  const image = await loadImage(store, from)
  const epoch = options.epoch ?? sourceDateEpoch()
  const stamp = { owner: ROOT_OWNER, mtime: new Date(epoch * 1000) }
  const work = tempName(store.paths.tmpDir, 'squash')
  const rootfs = join(work, 'rootfs')
  try {
    await unpackRootfs(store, image, rootfs, { privileged: true })
    const tx = await ImportTransaction.begin(store)
    return await tx.run(async () => {
      const layer = await writeLayer(store, tx, options.compression ?? DEFAULT_COMPRESSION, async pack => {
        await packDirectory(pack, rootfs, '', stamp, { keepOwners: true })
      })
      const layers = [{ ...layer, createdBy: `emergence image squash: ${image.manifestDescriptor.digest}` }]
      return await commitImage(store, tx, { ref, base, layers, settings: {}, epoch, replaceLayers: true })
    })
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
