/** Summaries of stored images for `image ls` and `image inspect`. */
import { isIndexMediaType } from '../oci/media-types.ts'
import { parseImageConfig, parseIndex, parseManifest, type Descriptor, type ImageConfig } from '../oci/types.ts'
import { selectPlatform, formatPlatform } from '../oci/platform.ts'
import { walkImage } from '../oci/walk.ts'
import type { Store } from '../store/store.ts'

export const NIX_REF_PREFIX = 'nix/'

export interface ImageSummary {
  ref: string
  digest: string
  mediaType: string
  /** Bytes of every blob the image reaches. */
  size: number
  pinned: boolean
}

export async function imageSize (store: Store, root: Descriptor): Promise<number> {
  let size = 0
  await walkImage([root], async d => await store.blobs.readBytes(d.digest), { visit: d => { size += d.size }, onMissing: () => 'skip' })
  return size
}

export async function listImages (store: Store): Promise<ImageSummary[]> {
  const pins = new Set((await store.pins.list()).map(p => p.digest))
  // Refs under `nix/` name shared Nix paths and closures (docs/nix.md): `emergence nix ls` lists those.
  const entries = (await store.refs.list()).filter(entry => !entry.ref.startsWith(NIX_REF_PREFIX))
  const summaries: ImageSummary[] = []
  for (const { ref, descriptor } of entries.sort((a, b) => a.ref.localeCompare(b.ref))) {
    summaries.push({ ref, digest: descriptor.digest, mediaType: descriptor.mediaType, size: await imageSize(store, descriptor), pinned: pins.has(descriptor.digest) })
  }
  return summaries
}

export interface ImageDetails {
  ref: string
  digest: string
  mediaType: string
  platforms?: string[]
  manifest: Descriptor
  config: ImageConfig
  layers: Descriptor[]
  size: number
}

/** Resolves a ref to the host platform's manifest and reads its config. */
export async function describeImage (store: Store, reference: string): Promise<ImageDetails> {
  const { ref, descriptor } = await store.resolve(reference)
  let manifestDescriptor = descriptor
  let platforms: string[] | undefined
  if (isIndexMediaType(descriptor.mediaType)) {
    const index = parseIndex(await store.blobs.readBytes(descriptor.digest))
    platforms = index.manifests.flatMap(m => m.platform !== undefined ? [formatPlatform(m.platform)] : [])
    manifestDescriptor = selectPlatform(index.manifests)
  }
  const manifest = parseManifest(await store.blobs.readBytes(manifestDescriptor.digest))
  const config = parseImageConfig(await store.blobs.readBytes(manifest.config.digest))
  return {
    ref,
    digest: descriptor.digest,
    mediaType: descriptor.mediaType,
    ...(platforms !== undefined ? { platforms } : {}),
    manifest: manifestDescriptor,
    config,
    layers: manifest.layers,
    size: await imageSize(store, descriptor)
  }
}
