/**
 * What Nix over the network needs from the P2P subsystem, as a small contract at the seam (docs/architecture.md):
 * RESOLVE a ref with trusted peers, pull a blob from every peer that has it (verified against its
 * digest), and announce a blob written locally. The daemon adapts its `P2P` to this; tests may fake it.
 */
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Lease } from '../store/leases.ts'
import type { Store } from '../store/store.ts'
import type { Logger } from '../util/logger.ts'
import type { LocalNix } from './local-nix.ts'
import type { PublicKey, SecretKey } from './signing.ts'

export interface NetworkPullOptions {
  signal?: AbortSignal
  /** Keeps the committed blob out of GC's reach until a ref names it. */
  lease?: Lease
  /** Peer ids believed to hold the blob (those that answered RESOLVE), asked first. */
  providers?: readonly string[]
  /** Largest size accepted when no size is given. */
  maxSize?: number
  /**
   * The providers hold the blob complete (they answered RESOLVE for a closure that lists it): ask them for it
   * whole first, without a lookup per blob.
   */
  direct?: boolean
  /** Every verified piece, with the peer that sent it. */
  onPiece?: (peer: string, bytes: number) => void
  /** Once the size is known, with the bytes a resumed pull already had. */
  onStart?: (size: number, resumedBytes: number) => void
}

export interface NetworkPullResult {
  size: number
  alreadyPresent: boolean
  fetchedBytes: number
  fromPeers: Record<string, number>
}

export interface NixNetwork {
  /**
   * The descriptor trusted peers give for `name:tag`, the peers that gave it, and those that gave another answer
   * (for a Nix record: sharers of the same path whose records differ, in their signatures say, and who likely
   * hold the same NARs); throws when no peer answers.
   */
  resolve: (ref: string, options?: { signal?: AbortSignal }) => Promise<{ descriptor: Descriptor, peers: string[], dissenters: string[] }>
  /** What one peer answers for `name:tag` (to hear a dissenter out), or undefined when it has no answer. */
  resolveAt: (peer: string, ref: string, options?: { signal?: AbortSignal }) => Promise<Descriptor | undefined>
  /** Fetches a blob into the store unless it is there; its bytes are checked against the digest. */
  pullBlob: (descriptor: { digest: Digest, size: number }, options?: NetworkPullOptions) => Promise<NetworkPullResult>
  /** A blob entered the store by other means than a pull: announce it. */
  blobAdded: (digest: Digest) => void
  /** Runs `fn` as one batch of pulls: work that can wait (announcing the blobs) waits until it is over. */
  batch?: <T>(fn: () => Promise<T>) => Promise<T>
}

/** Everything the share, pull and peer-source code works with. */
export interface NixNodeContext {
  store: Store
  nix: LocalNix
  /** Signs the records of shared paths that carry no signature by this key. */
  signingKey?: SecretKey
  /** When non-empty, every record pulled must carry a valid signature by one of these keys. */
  trustedKeys: readonly PublicKey[]
  logger: Logger
}
