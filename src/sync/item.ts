/**
 * What the desired set holds (docs/automata.md "Cluster sync"): an image, named by its ref and pinned to the
 * digest the publisher held (so that nodes pull content, not whatever a tag means elsewhere), or a Nix closure,
 * named by its store path. Each has a key, unique in the set: the ref, or the store path.
 */
import { z } from 'zod'
import { isDigest, type Digest } from '../oci/digest.ts'
import { parseReference } from '../oci/reference.ts'
import { isStorePath, parseStorePath } from '../nix/store-path.ts'
import { describeError } from '../util/errors.ts'
import { InvalidSyncItemError } from './errors.ts'

export type SyncItem =
  | { kind: 'image', ref: string, digest: Digest }
  | { kind: 'nix', path: string }

/** What `sync add` names before the publisher looked it up: an image's digest may still be unknown. */
export type ItemRequest =
  | { kind: 'image', ref: string, digest?: Digest }
  | { kind: 'nix', path: string }

/** The ref as the set keys it: `name:tag`, or `name@digest` for an image named by digest alone. */
function canonicalRef (text: string): { ref: string, digest?: Digest } {
  const parsed = parseReference(text)
  const ref = parsed.tag !== undefined ? `${parsed.name}:${parsed.tag}` : `${parsed.name}@${parsed.digest ?? ''}`
  return { ref, ...(parsed.digest !== undefined ? { digest: parsed.digest } : {}) }
}

/** `/nix/store/<hash>-name[/sub/path]` -> a Nix item of its store path; anything else is an image ref. */
export function parseItemArgument (text: string): ItemRequest {
  const trimmed = text.trim()
  if (trimmed.startsWith('/')) {
    const root = trimmed.split('/').slice(0, 4).join('/')
    try {
      return { kind: 'nix', path: parseStorePath(root).path }
    } catch (err) {
      throw new InvalidSyncItemError(text, `not a Nix store path (/nix/store/<hash>-<name>): ${describeError(err)}`, err)
    }
  }
  try {
    return { kind: 'image', ...canonicalRef(trimmed) }
  } catch (err) {
    throw new InvalidSyncItemError(text, `not an image ref (name:tag, name@sha256:...) nor a Nix store path: ${describeError(err)}`, err)
  }
}

/** The key an item or a request has in the set. */
export function itemKey (item: ItemRequest): string {
  return item.kind === 'image' ? item.ref : item.path
}

/** An item as it travels in a document: checked field by field, the ref kept in its canonical form. */
export const itemSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('image'),
    ref: z.string().min(1).max(512).refine(ref => { try { return canonicalRef(ref).ref === ref } catch { return false } }, 'not a canonical image ref'),
    digest: z.string().refine(isDigest, 'not a digest').transform(d => d as Digest)
  }).strict(),
  z.object({
    kind: z.literal('nix'),
    path: z.string().max(512).refine(isStorePath, 'not a Nix store path')
  }).strict()
])
