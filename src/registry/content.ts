/**
 * What the mirror serves, found the way the store names it: tags are refs `name:tag` in index.json (the node's
 * own, else what its trusted peers agree on, docs/security.md), manifests and blobs are store blobs by digest
 * (the node's own, else fetched from any peer and verified before they become visible). Nothing here writes a
 * ref: the mirror is read-only, and what it fetched stays an unreferenced blob that GC may take back.
 */
import type { Readable } from 'node:stream'
import type { Digest } from '../oci/digest.ts'
import { isIndexMediaType, isManifestMediaType } from '../oci/media-types.ts'
import { MAX_JSON_BYTES, type Descriptor } from '../oci/types.ts'
import { childrenOf, sniffMediaType } from '../oci/walk.ts'
import type { ByteRange } from '../store/blob-store.ts'
import { REF_NAME_ANNOTATION } from '../oci/reference.ts'
import type { Lease } from '../store/leases.ts'
import type { Store } from '../store/store.ts'
import { describeError } from '../util/errors.ts'
import { DEFAULT_MAX_UNKNOWN_BLOB_BYTES, KNOWN_SIZES_LIMIT } from './constants.ts'
import { BlobUnknownError, ManifestUnknownError, NameUnknownError } from './errors.ts'
import type { Origin, PeerFetcher } from './fetcher.ts'

/** One client request: its signal, its store lease, and the upstream it names (if any). */
export interface MirrorRequest {
  signal: AbortSignal
  lease: Lease
  origin?: Origin
}

export interface MirrorContentInit {
  /** @default 16 GiB */
  maxUnknownBlobBytes?: number
}

/** A manifest or index as served: its bytes (at most MAX_JSON_BYTES) and its descriptor. */
export interface ServedManifest {
  descriptor: Descriptor
  bytes: Uint8Array
}

export class MirrorContent {
  readonly store: Store
  private readonly fetcher: PeerFetcher | undefined
  private readonly maxUnknown: number
  /** Sizes of blobs named by manifests served here: verified sizes for later blob fetches. */
  private readonly knownSizes = new Map<Digest, number>()

  constructor (store: Store, fetcher?: PeerFetcher, init: MirrorContentInit = {}) {
    this.store = store
    this.fetcher = fetcher
    this.maxUnknown = init.maxUnknownBlobBytes ?? DEFAULT_MAX_UNKNOWN_BLOB_BYTES
  }

  /**
   * The root `name:tag` names under the first of `names` that has it, here or at the trusted peers (or, with an
   * upstream fetcher, at the origin registry).
   */
  async resolveTag (names: string[], tag: string, request: MirrorRequest): Promise<Descriptor> {
    const refs = new Map((await this.store.refs.list()).map(e => [e.ref, e.descriptor]))
    for (const name of names) {
      const local = refs.get(`${name}:${tag}`)
      if (local !== undefined) return withoutRefName(local)
    }
    for (const name of this.fetcher !== undefined ? names : []) {
      // Any failure (trusted peers disagree, an upstream refuses) is a 404 too: the client's next host may have it.
      const remote = await this.fetcher?.resolveTag(`${name}:${tag}`, request).catch((err: unknown) => {
        request.signal.throwIfAborted()
        throw new ManifestUnknownError(`${name}:${tag}`, describeError(err), err)
      })
      if (remote !== undefined) return remote
    }
    throw new ManifestUnknownError(`${names[0] ?? ''}:${tag}`)
  }

  /** A manifest or index by descriptor (from a tag) or by digest alone, fetched from peers when missing. */
  async manifest (wanted: Descriptor | { digest: Digest }, request: MirrorRequest): Promise<ServedManifest> {
    const size = await this.ensure(wanted.digest, 'size' in wanted ? wanted.size : this.knownSizes.get(wanted.digest), MAX_JSON_BYTES, request)
    if (size === undefined) throw new ManifestUnknownError(wanted.digest, 'neither this node nor a peer has it')
    if (size > MAX_JSON_BYTES) throw new ManifestUnknownError(wanted.digest, 'not a manifest (too large)')
    const bytes = await this.store.blobs.readBytes(wanted.digest)
    let mediaType: string | undefined
    try {
      mediaType = sniffMediaType(bytes)
    } catch {
      mediaType = undefined
    }
    if ('mediaType' in wanted && (isManifestMediaType(wanted.mediaType) || isIndexMediaType(wanted.mediaType))) mediaType = wanted.mediaType
    if (mediaType === undefined) throw new ManifestUnknownError(wanted.digest, 'not a manifest or an index')
    const descriptor = { mediaType, digest: wanted.digest, size }
    this.remember(descriptor, bytes)
    return { descriptor, bytes }
  }

  /** Makes sure the blob is here (fetching it from peers) and returns its size. */
  async blob (digest: Digest, request: MirrorRequest): Promise<number> {
    const size = await this.ensure(digest, this.knownSizes.get(digest), this.maxUnknown, request)
    if (size === undefined) throw new BlobUnknownError(digest, 'neither this node nor a peer has it')
    return size
  }

  /** Whether the store has the blob (added to the request's lease first, so GC keeps it). */
  async has (digest: Digest, request: MirrorRequest): Promise<boolean> {
    await request.lease.add(digest)
    return await this.store.blobs.has(digest)
  }

  /** The blob's size as a manifest served here gave it (verified), if one did. */
  expectedSize (digest: Digest): number | undefined {
    return this.knownSizes.get(digest)
  }

  async read (digest: Digest, range?: ByteRange): Promise<Readable> {
    return await this.store.blobs.read(digest, range)
  }

  /** Tags of the first of `names` that has any, sorted; NameUnknownError when none has. */
  async tags (names: string[]): Promise<{ name: string, tags: string[] }> {
    const refs = (await this.store.refs.list()).map(e => e.ref)
    for (const name of names) {
      const tags = refs.filter(r => r.startsWith(`${name}:`)).map(r => r.slice(name.length + 1)).filter(t => !t.includes('/') && !t.includes(':'))
      if (tags.length > 0) return { name, tags: tags.sort() }
    }
    throw new NameUnknownError(names[0] ?? '')
  }

  /** The blob's size once it is in the store, or undefined when neither the store nor a peer has it. */
  private async ensure (digest: Digest, size: number | undefined, maxSize: number, request: MirrorRequest): Promise<number | undefined> {
    const { signal, lease } = request
    await lease.add(digest)
    const local = await this.store.blobs.stat(digest)
    if (local !== undefined) return local.size
    if (this.fetcher === undefined) return undefined
    try {
      const fetched = await this.fetcher.fetchBlob({ digest, ...(size !== undefined ? { size } : {}) }, { ...request, maxSize })
      if (!fetched) return undefined
    } catch (err) {
      signal.throwIfAborted()
      throw new BlobUnknownError(digest, `fetching it from peers failed: ${describeError(err)}`, err)
    }
    return (await this.store.blobs.stat(digest))?.size
  }

  /** Records the sizes a manifest or index gives its children (verified: the parent's digest was checked). */
  private remember (descriptor: Descriptor, bytes: Uint8Array): void {
    let children: Descriptor[]
    try {
      children = childrenOf(descriptor, bytes)
    } catch {
      return
    }
    for (const child of children) {
      if (this.knownSizes.size >= KNOWN_SIZES_LIMIT) this.knownSizes.delete(this.knownSizes.keys().next().value as Digest)
      this.knownSizes.set(child.digest, child.size)
    }
  }
}

function withoutRefName (descriptor: Descriptor): Descriptor {
  if (descriptor.annotations?.[REF_NAME_ANNOTATION] === undefined) return descriptor
  const { [REF_NAME_ANNOTATION]: _ref, ...annotations } = descriptor.annotations
  const { annotations: _all, ...rest } = descriptor
  return Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest
}
