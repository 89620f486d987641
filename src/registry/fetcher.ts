/**
 * The seam between the mirror and the network: what trusted peers say a tag names, and blobs fetched from
 * peers into the store. `p2pFetcher` is the real one over the node's puller; tests may pass a fake.
 *
 * A blob nobody holds must answer 404 soon, so that containerd tries its next host: the fetcher first looks for
 * one holder within `lookupTimeoutMs` (routing: connected peers first, then the DHT), and only then pulls.
 */
import type { PeerId } from '@libp2p/interface'
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import { NoProvidersError, RefNotResolvedError, UntrustedTagError } from '../p2p/errors.ts'
import type { P2P } from '../p2p/service.ts'
import type { Lease } from '../store/leases.ts'
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { DEFAULT_LOOKUP_TIMEOUT_MS } from './constants.ts'

/** Where a request says its content comes from: the registry containerd names in `ns`, or a host in the name. */
export interface Origin {
  registry: string
  repository: string
}

export interface TagResolveOptions {
  signal: AbortSignal
  /** Keeps a manifest a fetcher stored while resolving out of GC's reach. */
  lease: Lease
  origin?: Origin
}

export interface BlobFetchOptions {
  signal: AbortSignal
  origin?: Origin
  /** Keeps the fetched blob out of GC's reach until the response has opened it. */
  lease: Lease
  /** Largest size accepted when `size` is not known. */
  maxSize: number
}

export interface PeerFetcher {
  /** The descriptor the trusted peers agree `ref` (`name:tag`) names; undefined when none knows it. */
  resolveTag: (ref: string, options: TagResolveOptions) => Promise<Descriptor | undefined>
  /** Fetches the blob into the store, verified; false when no peer holds it. */
  fetchBlob: (blob: { digest: Digest, size?: number }, options: BlobFetchOptions) => Promise<boolean>
}

/** Asks `first`, then `second` for what `first` does not have. */
export function chainFetchers (first: PeerFetcher, second: PeerFetcher): PeerFetcher {
  return {
    resolveTag: async (ref, options) => await first.resolveTag(ref, options) ?? await second.resolveTag(ref, options),
    fetchBlob: async (blob, options) => await first.fetchBlob(blob, options) || await second.fetchBlob(blob, options)
  }
}

export interface P2PFetcherInit {
  /** @default 3 s */
  lookupTimeoutMs?: number
  logger?: Logger
}

/** The first peer other than this node that routing names as a holder, within the lookup time. */
export async function firstHolder (p2p: P2P, digest: Digest, timeoutMs: number, signal: AbortSignal): Promise<PeerId | undefined> {
  const lookup = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
  try {
    for await (const peer of p2p.routing.findProviders(digest, { signal: lookup })) {
      if (!peer.equals(p2p.peerId)) return peer
    }
  } catch (err) {
    signal.throwIfAborted()
    if (!lookup.aborted) throw err
  }
  return undefined
}

export function p2pFetcher (p2p: P2P, init: P2PFetcherInit = {}): PeerFetcher {
  const timeoutMs = init.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS
  const logger = init.logger ?? silentLogger
  return {
    resolveTag: async (ref, { signal }) => {
      try {
        return (await p2p.puller.resolveTag(ref, { signal })).descriptor
      } catch (err) {
        if (err instanceof RefNotResolvedError || err instanceof UntrustedTagError) {
          logger.debug(`tag ${ref} not resolved by peers: ${err.message}`)
          return undefined
        }
        throw err
      }
    },
    fetchBlob: async (blob, { signal, lease, maxSize }) => {
      const holder = await firstHolder(p2p, blob.digest, timeoutMs, signal)
      if (holder === undefined) return false
      try {
        await p2p.pullBlob(blob, { signal, lease, maxSize, providers: [holder] })
        return true
      } catch (err) {
        if (!(err instanceof NoProvidersError)) throw err
        logger.debug(`blob ${blob.digest} not fetched: ${describeError(err)}`)
        return false
      }
    }
  }
}
