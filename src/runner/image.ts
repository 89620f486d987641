/**
 * Finds what a bundle is made of: ref or descriptor -> (index -> platform entry) -> manifest -> config. Every
 * JSON blob is re-hashed before it is parsed, and the config's os/architecture must match the host
 * (docs/formats.md "Manifests, indexes and configs").
 */
import type { Store } from '../store/store.ts'
import { digestAlgorithm, digestOf } from '../oci/digest.ts'
import { InvalidManifestError } from '../oci/errors.ts'
import { isIndexMediaType, isManifestMediaType, layerCompression } from '../oci/media-types.ts'
import { formatPlatform, hostPlatform, selectPlatform } from '../oci/platform.ts'
import { parseImageConfig, parseIndex, parseManifest, type Descriptor, type ImageConfig, type Manifest, type Platform } from '../oci/types.ts'
import { sniffMediaType } from '../oci/walk.ts'
import { DigestMismatchError } from '../store/errors.ts'
import { PlatformMismatchError, UnsupportedLayerError } from './errors.ts'

export interface ResolvedImage {
  /** The reference the caller gave (or the manifest digest when given a descriptor). */
  ref: string
  manifestDescriptor: Descriptor
  manifest: Manifest
  config: ImageConfig
}

/** Nested indexes deeper than this are refused (a loop of indexes would otherwise never end). */
const MAX_INDEX_DEPTH = 4

async function readVerified (store: Store, descriptor: Descriptor): Promise<Uint8Array> {
  const bytes = await store.blobs.readBytes(descriptor.digest)
  const actual = digestOf(bytes, digestAlgorithm(descriptor.digest))
  if (actual !== descriptor.digest) throw new DigestMismatchError(descriptor.digest, actual)
  return bytes
}

/**
 * Loads the image `image` (a `name:tag`/`name@digest` ref, a digest, or a manifest/index descriptor) from
 * `store`, picking `platform` (default: the host) from an index. Throws RefNotFoundError, BlobNotFoundError,
 * NoMatchingPlatformError, PlatformMismatchError, InvalidManifestError, UnsupportedLayerError.
 */
export async function loadImage (store: Store, image: string | Descriptor, platform: Platform = hostPlatform()): Promise<ResolvedImage> {
  let descriptor: Descriptor
  let ref: string
  if (typeof image === 'string') {
    ({ ref, descriptor } = await store.resolve(image))
  } else {
    descriptor = image
    ref = image.digest
  }
  for (let depth = 0; ; depth++) {
    const bytes = await readVerified(store, descriptor)
    const mediaType = descriptor.mediaType !== '' && descriptor.mediaType !== 'application/octet-stream'
      ? descriptor.mediaType
      : sniffMediaType(bytes)
    if (isIndexMediaType(mediaType)) {
      if (depth >= MAX_INDEX_DEPTH) throw new InvalidManifestError(`image indexes nested deeper than ${MAX_INDEX_DEPTH}`)
      descriptor = selectPlatform(parseIndex(bytes).manifests, platform)
      continue
    }
    if (!isManifestMediaType(mediaType)) throw new InvalidManifestError(`${descriptor.digest} is a ${String(mediaType)}, not an image manifest or index`)
    const manifest = parseManifest(bytes)
    const config = parseImageConfig(await readVerified(store, manifest.config))
    checkImage(manifest, config, platform)
    return { ref, manifestDescriptor: descriptor, manifest, config }
  }
}

function checkImage (manifest: Manifest, config: ImageConfig, platform: Platform): void {
  // A config without os/architecture breaks image-spec; we let it run rather than guess it is foreign.
  const os = config.os ?? platform.os
  const architecture = config.architecture ?? platform.architecture
  if (os !== platform.os || architecture !== platform.architecture) {
    throw new PlatformMismatchError(formatPlatform({ os, architecture, ...(config.variant !== undefined ? { variant: config.variant } : {}) }), formatPlatform(platform))
  }
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new InvalidManifestError(`the manifest has ${manifest.layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`)
  }
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) throw new UnsupportedLayerError(layer.mediaType)
  }
}
