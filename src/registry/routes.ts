/**
 * The read side of distribution-spec's URL space (docs/registry.md "What it answers"): `/v2/`, manifests and blobs by
 * name and reference, and `tags/list`. Parsing validates names, tags and digests, so the handlers only see valid
 * ones.
 */
import { isDigest, type Digest } from '../oci/digest.ts'
import { isValidName, isValidTag } from '../oci/reference.ts'
import { DigestInvalidError, ManifestUnknownError, NameInvalidError, RouteNotFoundError } from './errors.ts'

export type Route =
  | { kind: 'base' }
  | { kind: 'manifest', name: string, reference: { tag: string } | { digest: Digest }, ns?: string }
  | { kind: 'blob', name: string, digest: Digest, ns?: string }
  | { kind: 'tags', name: string, n?: number, last?: string, ns?: string }

const MANIFEST_OR_BLOB = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/
const TAGS = /^\/v2\/(.+)\/tags\/list$/
/** The `ns` query parameter containerd adds to mirror requests: the upstream registry host. */
const HOST = /^[a-zA-Z0-9.-]+(?::[0-9]{1,5})?$/

function validName (name: string): string {
  if (!isValidName(name)) throw new NameInvalidError(name)
  return name
}

function withNs (query: URLSearchParams): { ns?: string } {
  const ns = query.get('ns') ?? undefined
  return ns !== undefined && HOST.test(ns) ? { ns } : {}
}

/** Parses a request path and query; throws a RegistryError for a path outside the API or an invalid part. */
export function parseRoute (url: string): Route {
  const parsed = new URL(url, 'http://mirror.invalid')
  const path = decodeURIComponent(parsed.pathname)
  if (path === '/v2' || path === '/v2/') return { kind: 'base' }
  const tags = TAGS.exec(path)
  if (tags?.[1] !== undefined) {
    const n = parsed.searchParams.get('n')
    const last = parsed.searchParams.get('last')
    return {
      kind: 'tags',
      name: validName(tags[1]),
      ...(n !== null && /^\d{1,6}$/.test(n) ? { n: Number(n) } : {}),
      ...(last !== null ? { last } : {}),
      ...withNs(parsed.searchParams)
    }
  }
  const match = MANIFEST_OR_BLOB.exec(path)
  if (match?.[1] === undefined || match[3] === undefined) throw new RouteNotFoundError(path)
  const name = validName(match[1])
  const reference = match[3]
  if (match[2] === 'blobs') {
    if (!isDigest(reference)) throw new DigestInvalidError(reference)
    return { kind: 'blob', name, digest: reference, ...withNs(parsed.searchParams) }
  }
  if (isDigest(reference)) return { kind: 'manifest', name, reference: { digest: reference }, ...withNs(parsed.searchParams) }
  if (reference.includes(':')) throw new DigestInvalidError(reference)
  if (!isValidTag(reference)) throw new ManifestUnknownError(`${name}:${reference.slice(0, 200)}`, 'not a valid tag')
  return { kind: 'manifest', name, reference: { tag: reference }, ...withNs(parsed.searchParams) }
}

/** Whether a name's first component is a registry host (`docker.io/...`, `localhost:5000/...`). */
function hasHost (name: string): boolean {
  const slash = name.indexOf('/')
  if (slash === -1) return false
  const first = name.slice(0, slash)
  return first.includes('.') || first.includes(':') || first === 'localhost'
}

/**
 * The store names a request may mean, in order: the name as asked; with the upstream host that containerd
 * names in `ns` in front (`docker.io/library/busybox`); without a host the client put in front; and, for Docker
 * Hub, without the `library/` that clients add to official images.
 */
export function candidateNames (name: string, ns?: string): string[] {
  const names = [name]
  if (ns !== undefined) names.push(`${ns}/${name}`)
  if (hasHost(name)) names.push(name.slice(name.indexOf('/') + 1))
  if ((ns === 'docker.io' || ns === undefined) && name.startsWith('library/')) names.push(name.slice('library/'.length))
  return [...new Set(names)].filter(n => isValidName(n))
}

/** The upstream a request names: containerd's `ns`, else a registry host at the front of the name. */
export function originOf (name: string, ns?: string): { registry: string, repository: string } | undefined {
  if (ns !== undefined) return { registry: ns, repository: name }
  if (!hasHost(name)) return undefined
  const slash = name.indexOf('/')
  return { registry: name.slice(0, slash), repository: name.slice(slash + 1) }
}
