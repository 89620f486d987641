/**
 * `emergence pull` through from an upstream registry (docs/registry.md "Pull-through"), as the mirror does: for
 * a ref that names a configured upstream (`<registry>/<repository>:<tag>`), the image pull asks the peers first,
 * as every pull does, and the upstream for what they lack: the tag when no trusted peer knows it, a blob when no
 * peer holds it within the lookup time. What comes from the upstream is verified into the store and announced
 * at once (upstream-fetcher.ts), so the next node finds it at a peer: the upstream serves each blob once per
 * cluster. The image walk, the ref and the progress stay the puller's (`pullImage` with this as its `source`).
 */
import { isDigest, type Digest } from '../oci/digest.ts'
import { InvalidReferenceError } from '../oci/errors.ts'
import { parseReference } from '../oci/reference.ts'
import { NoProvidersError, RefNotResolvedError, UntrustedTagError } from '../p2p/errors.ts'
import type { BlobPullOptions, BlobPullResult, Puller } from '../p2p/pulling/index.ts'
import type { P2P } from '../p2p/service.ts'
import type { Lease } from '../store/leases.ts'
import type { Store } from '../store/store.ts'
import { DEFAULT_LOOKUP_TIMEOUT_MS } from './constants.ts'
import { PullThroughError } from './errors.ts'
import { firstHolder, type Origin, type PeerFetcher } from './fetcher.ts'
import { originOf } from './routes.ts'
import type { Upstream } from './upstream-address.ts'

/** The largest manifest-or-blob of unknown size taken from an upstream (a root fetched by digest). */
const UNKNOWN_SIZE_LIMIT = 4 * 1024 * 1024

/** A pull's source of tags and blobs: the peers, then the upstream. */
export interface PullThrough extends Pick<Puller, 'resolveTag' | 'pullBlob'> {
  readonly origin: Origin
  /** Bytes this pull took from the upstream. */
  readonly fromUpstream: number
  /** Releases the lease that kept what the upstream gave out of GC's reach until the pull leased it. */
  close: () => Promise<void>
}

/** The upstream `ref` names, when it names one of `upstreams`; else undefined (a pull from peers alone). */
export function upstreamOf (ref: string, upstreams: readonly Upstream[]): Origin | undefined {
  if (isDigest(ref)) return undefined
  let name: string
  try {
    name = parseReference(ref).name
  } catch (err) {
    if (err instanceof InvalidReferenceError) return undefined
    throw err
  }
  const origin = originOf(name)
  return origin !== undefined && upstreams.some(u => u.registry === origin.registry) ? origin : undefined
}

export interface PullThroughInit {
  /** How long to look for a peer that holds a blob before asking the upstream. @default 3 s */
  lookupTimeoutMs?: number
}

/** A source for one pull of an image from `origin`: `upstream` is an `upstreamFetcher` over the node's store. */
export async function pullThrough (p2p: P2P, store: Store, upstream: PeerFetcher, origin: Origin, init: PullThroughInit = {}): Promise<PullThrough> {
  const lookupMs = init.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS
  const own: Lease = await store.createLease()
  let fromUpstream = 0
  const signalOf = (signal: AbortSignal | undefined): AbortSignal => signal ?? new AbortController().signal
  return {
    origin,
    get fromUpstream () { return fromUpstream },
    close: async () => { await own.release() },
    resolveTag: async (ref, options = {}) => {
      try {
        return await p2p.puller.resolveTag(ref, options)
      } catch (err) {
        if (!(err instanceof RefNotResolvedError) && !(err instanceof UntrustedTagError)) throw err
        const descriptor = await upstream.resolveTag(ref, { signal: signalOf(options.signal), lease: own, origin })
        if (descriptor === undefined) throw new PullThroughError(ref, origin.registry, err.message, err)
        return { descriptor, peers: [], dissenters: [] }
      }
    },
    pullBlob: async (descriptor, options = {}): Promise<BlobPullResult> => {
      const { digest } = descriptor
      const signal = signalOf(options.signal)
      if (!await store.blobs.has(digest)) {
        const holder = await firstHolder(p2p, digest, lookupMs, signal)
        if (holder === undefined) return await fromOrigin(descriptor, options, signal)
        options = { ...options, providers: [holder, ...(options.providers ?? [])] }
      }
      try {
        return await p2p.pullBlob(descriptor, options)
      } catch (err) {
        if (!(err instanceof NoProvidersError)) throw err
        return await fromOrigin(descriptor, options, signal)
      }
    }
  }

  async function fromOrigin (descriptor: { digest: Digest, size?: number }, options: BlobPullOptions, signal: AbortSignal): Promise<BlobPullResult> {
    const lease = options.lease ?? own
    const fetched = await upstream.fetchBlob(descriptor, { signal, lease, origin, maxSize: options.maxSize ?? UNKNOWN_SIZE_LIMIT })
    const size = fetched ? (await store.blobs.stat(descriptor.digest))?.size : undefined
    if (size === undefined) throw new PullThroughError(descriptor.digest, origin.registry)
    fromUpstream += size
    options.onStart?.(size, 0)
    options.onPiece?.(`${origin.registry} (upstream)`, size)
    return { digest: descriptor.digest, size, alreadyPresent: false, resumedBytes: 0, fetchedBytes: 0, fromPeers: {} }
  }
}
