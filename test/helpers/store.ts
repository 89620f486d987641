/** A fresh store in a temp directory, and small readers of its state on disk. */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../src/store/store.ts'
import type { Descriptor } from '../../src/oci/types.ts'
import { digestOf } from '../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../src/oci/media-types.ts'
import { tempDir, type Cleanup } from './temp.ts'

export async function tempStore (cleanup: Cleanup): Promise<Store> {
  return await Store.open(join(await tempDir(cleanup), 'store'))
}

/** Names in a directory, or [] when it does not exist. */
export async function listDir (dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).sort()
}

/** Digests present in `blobs/sha256`, as files on disk. */
export async function blobsOnDisk (store: Store): Promise<string[]> {
  return (await listDir(join(store.paths.blobsDir, 'sha256'))).map(hex => `sha256:${hex}`)
}

/** Writes `data` as a blob of the store and returns its descriptor. */
export async function putBlob (store: Store, data: string | Uint8Array, mediaType = 'application/octet-stream'): Promise<Descriptor> {
  const bytes = Buffer.from(data)
  const digest = digestOf(bytes)
  await store.blobs.write(digest, [bytes], { size: bytes.byteLength })
  return { mediaType, digest, size: bytes.byteLength }
}

export interface StoredImage {
  manifest: Descriptor
  config: Descriptor
  layers: Descriptor[]
}

/** Writes a small image (config, layers given by content, manifest) into the store, without tagging it. */
export async function putImage (store: Store, layers: string[], configNote = 'x'): Promise<StoredImage> {
  const layerDescriptors: Descriptor[] = []
  for (const content of layers) layerDescriptors.push(await putBlob(store, content, MEDIA_TYPE.ociLayer))
  const config = await putBlob(store, JSON.stringify({ rootfs: { type: 'layers', diff_ids: layerDescriptors.map(l => l.digest) }, note: configNote }), MEDIA_TYPE.ociConfig)
  const manifest = await putBlob(store, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers: layerDescriptors }), MEDIA_TYPE.ociManifest)
  return { manifest, config, layers: layerDescriptors }
}
