/** Choosing which entries of a source index.json to import, and the graph check every import runs first. */
import { REF_NAME_ANNOTATION } from '../oci/reference.ts'
import { walkImage } from '../oci/walk.ts'
import type { Descriptor, ImageIndex } from '../oci/types.ts'
import { InvalidImageSourceError, MissingBlobError } from './errors.ts'

/** The index entries to import: those tagged `sourceRef`, else every tagged entry, else a lone untagged one. */
export function selectEntries (index: ImageIndex, sourceRef: string | undefined, what: string): Descriptor[] {
  const tagged = index.manifests.filter(d => d.annotations?.[REF_NAME_ANNOTATION] !== undefined)
  if (sourceRef !== undefined) {
    const matches = index.manifests.filter(d => d.annotations?.[REF_NAME_ANNOTATION] === sourceRef)
    if (matches.length === 0) {
      const names = tagged.map(d => d.annotations?.[REF_NAME_ANNOTATION]).join(', ')
      throw new InvalidImageSourceError(`${what} has no image tagged ${JSON.stringify(sourceRef)} (it has: ${names !== '' ? names : 'no tags'})`)
    }
    return matches
  }
  if (tagged.length > 0) return tagged
  if (index.manifests.length === 1) return index.manifests
  throw new InvalidImageSourceError(`${what} holds ${index.manifests.length} untagged images: name one with <dir>:<ref>`)
}

/**
 * Walks the graph from `roots`, checking that every blob exists with its descriptor's size before anything is
 * written. Returns every descriptor reached, parents first.
 */
export async function planGraph (
  roots: Descriptor[],
  readJson: (d: Descriptor) => Promise<Uint8Array>,
  sizeOf: (d: Descriptor) => Promise<number | undefined>
): Promise<Descriptor[]> {
  const plan: Descriptor[] = []
  await walkImage(roots, readJson, {
    visit: async (descriptor, parent) => {
      const size = await sizeOf(descriptor)
      const where = parent !== undefined ? `${parent.digest}` : 'index.json'
      if (size === undefined) throw new MissingBlobError(descriptor.digest, where)
      if (size !== descriptor.size) {
        throw new InvalidImageSourceError(`${where} says blob ${descriptor.digest} has ${descriptor.size} bytes, the source has ${size}`)
      }
      plan.push(descriptor)
    }
  })
  return plan
}
