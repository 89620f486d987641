/**
 * A walk over an image's blob graph (docs/formats.md "Manifests, indexes and configs"): index -> manifests (nested
 * indexes too) -> config, layers and subject. Unknown media types are opaque leaves. Used by GC (mark), export, pull
 * and verify.
 */
import type { Digest } from './digest.ts'
import { isConfigMediaType, isIndexMediaType, isManifestMediaType } from './media-types.ts'
import { parseIndex, parseManifest, parseJsonBytes, type Descriptor } from './types.ts'
import { InvalidManifestError } from './errors.ts'

/** Reads a blob that the walk needs to parse (indexes and manifests only). */
export type ReadJsonBlob = (descriptor: Descriptor) => Promise<Uint8Array>

export interface WalkOptions {
  /** Called for every descriptor reached, parents before children. Return false to skip its children. */
  visit?: (descriptor: Descriptor, parent: Descriptor | undefined) => boolean | void | Promise<boolean | void>
  /** What to do when a child blob cannot be read: throw (default) or treat it as a leaf. */
  onMissing?: (descriptor: Descriptor, err: unknown) => 'throw' | 'skip'
}

/**
 * Detects whether JSON bytes are an index or a manifest when the descriptor's media type does not say
 * (docker-save and some layouts omit it).
 */
export function sniffMediaType (bytes: Uint8Array): string | undefined {
  const doc = parseJsonBytes(bytes, 'document') as Record<string, unknown> | null
  if (doc === null || typeof doc !== 'object') return undefined
  if (typeof doc.mediaType === 'string') return doc.mediaType
  if (Array.isArray(doc.manifests)) return 'application/vnd.oci.image.index.v1+json'
  if (doc.config !== undefined && Array.isArray(doc.layers)) return 'application/vnd.oci.image.manifest.v1+json'
  return undefined
}

/** Children of a manifest or index blob, in order: manifests; or config, layers, subject. */
export function childrenOf (descriptor: Descriptor, bytes: Uint8Array): Descriptor[] {
  if (isIndexMediaType(descriptor.mediaType)) {
    const index = parseIndex(bytes)
    return [...index.manifests, ...(index.subject !== undefined ? [index.subject] : [])]
  }
  if (isManifestMediaType(descriptor.mediaType)) {
    const manifest = parseManifest(bytes)
    return [manifest.config, ...manifest.layers, ...(manifest.subject !== undefined ? [manifest.subject] : [])]
  }
  return []
}

/** True for descriptors whose blob must be read to find children. */
export function hasChildren (descriptor: Descriptor): boolean {
  return isIndexMediaType(descriptor.mediaType) || isManifestMediaType(descriptor.mediaType)
}

/**
 * Walks depth-first from `roots`, visiting each digest once. Returns every digest reached.
 */
export async function walkImage (roots: Descriptor[], read: ReadJsonBlob, options: WalkOptions = {}): Promise<Set<Digest>> {
  const seen = new Set<Digest>()
  const stack: Array<{ descriptor: Descriptor, parent: Descriptor | undefined }> = roots.map(d => ({ descriptor: d, parent: undefined })).reverse()
  while (stack.length > 0) {
    const { descriptor, parent } = stack.pop() as { descriptor: Descriptor, parent: Descriptor | undefined }
    if (seen.has(descriptor.digest)) continue
    seen.add(descriptor.digest)
    const descend = await options.visit?.(descriptor, parent)
    if (descend === false || !hasChildren(descriptor) || isConfigMediaType(descriptor.mediaType)) continue
    let bytes: Uint8Array
    try {
      bytes = await read(descriptor)
    } catch (err) {
      if (options.onMissing?.(descriptor, err) === 'skip') continue
      throw err
    }
    let children: Descriptor[]
    try {
      children = childrenOf(descriptor, bytes)
    } catch (err) {
      throw new InvalidManifestError(`${descriptor.digest}: ${err instanceof Error ? err.message : String(err)}`, err)
    }
    for (const child of children.reverse()) stack.push({ descriptor: child, parent: descriptor })
  }
  return seen
}
