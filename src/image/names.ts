/** Naming of imported images: where a source's `ref.name` becomes the store's `name:tag`. */
import { basename } from 'node:path'
import { isValidName, isValidTag, parseReference } from '../oci/reference.ts'
import { InvalidImageSourceError } from './errors.ts'

/**
 * The store ref for an imported image. An explicit `as` wins; a source ref that is already `name:tag` is kept;
 * a bare tag (what `umoci` and `skopeo copy ... oci:dir:tag` write) gets the source's base name as its name.
 */
export function storeRefFor (sourceRef: string | undefined, as: string | undefined, fallbackName: string): string {
  if (as !== undefined) {
    const parsed = parseReference(as)
    return `${parsed.name}:${parsed.tag ?? 'latest'}`
  }
  if (sourceRef === undefined) throw new InvalidImageSourceError('the image has no ref name: give one with --name')
  if (isValidTag(sourceRef)) return `${nameFromPath(fallbackName)}:${sourceRef}`
  const parsed = parseReference(sourceRef)
  return `${parsed.name}:${parsed.tag ?? 'latest'}`
}

/** A valid repository name derived from a file or directory name (`My_Image.tar` -> `my_image`). */
export function nameFromPath (path: string): string {
  const base = basename(path).replace(/\.(tar|oci|tgz|tar\.gz)$/i, '').toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
  if (isValidName(base)) return base
  return 'image'
}
