/**
 * Image references as docs/formats.md "References" describes them: `name[:tag][@digest]`.
 * The store keeps tags as `name:tag` in the `org.opencontainers.image.ref.name` annotation (docs/formats.md
 * "OCI image layout"), a form that skopeo's `oci:<dir>:<ref>` transport reads back.
 */
import { isDigest, type Digest } from './digest.ts'
import { InvalidReferenceError } from './errors.ts'

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
const NAME_PATTERN = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`)
const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/
/** A registry host with an optional port, as the first component of a name copied from a registry. */
const HOST_PATTERN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'
export const DEFAULT_TAG = 'latest'

export interface ImageReference {
  /** Repository name, e.g. `library/busybox` or `localhost:5000/app`. */
  name: string
  tag?: string
  digest?: Digest
}

export function isValidName (name: string): boolean {
  if (name.length === 0 || name.length > 255) return false
  const slash = name.indexOf('/')
  const first = slash === -1 ? name : name.slice(0, slash)
  // A leading registry host may hold upper case, dots and a port (distribution's reference grammar).
  if (slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return HOST_PATTERN.test(first) && NAME_PATTERN.test(name.slice(slash + 1))
  }
  return NAME_PATTERN.test(name)
}

export function isValidTag (tag: string): boolean {
  return TAG_PATTERN.test(tag)
}

/** Parses `name`, `name:tag`, `name@digest` or `name:tag@digest`; a bare name means `:latest`. */
export function parseReference (reference: string): ImageReference {
  let rest = reference
  let digest: Digest | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    const candidate = rest.slice(at + 1)
    if (!isDigest(candidate)) throw new InvalidReferenceError(reference, 'the part after @ is not a valid digest')
    digest = candidate
    rest = rest.slice(0, at)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!isValidTag(tag)) throw new InvalidReferenceError(reference, 'the tag must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}')
  }
  if (!isValidName(rest)) {
    throw new InvalidReferenceError(reference, 'the name must be lower-case components [a-z0-9] separated by . _ __ - or /')
  }
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) }
}

/** `name:tag`, or `name@digest` when there is no tag. */
export function formatReference (ref: ImageReference): string {
  if (ref.tag !== undefined) return `${ref.name}:${ref.tag}${ref.digest !== undefined ? `@${ref.digest}` : ''}`
  return `${ref.name}@${ref.digest ?? ''}`
}
