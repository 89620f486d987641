/**
 * Pulling: fetching blobs and images from every peer that has them, in parallel, trusting nobody but digests.
 *
 * The contract:
 * - **Verify every byte.** A piece is written only after it matches its verified piece list; the blob is committed
 *   only after its whole digest matches; a peer that sends a bad piece is banned for the session (`BanList`).
 * - **Many peers at once** (`Transfer`, `Swarm`, `PieceScheduler`): rarest pieces first, several requests in
 *   flight per peer, a peer that stalls or vanishes is dropped and its pieces asked of others.
 * - **No fixed cost per small blob**: small blobs and closure batches skip HAVE and piece lists
 *   (`pullDirect`, `pullWhole`).
 * - **Resumable and shared**: verified pieces survive a restart (`pull-state`); two pulls of one blob share one
 *   transfer (`SharedPulls`), and cancelling one caller does not cancel the other.
 * - **Names are claims**: a tag is resolved only by trusted peers who agree (`resolveAgreed`); what a node already
 *   holds is never replaced by what a peer says unless the user forces it.
 * - `Puller` ties these together; `pullImage` walks an index or manifest and pulls what the store lacks.
 */
export { Puller, type PullerInit, type PullerComponents } from './puller.ts'
export { pullImage, type PullImageOptions, type ImagePullResult } from './image-pull.ts'
export { BlobPull, type BlobPullOptions, type BlobPullResult, type PullComponents } from './blob-pull.ts'
export { BanList, DEFAULT_PULL_CONFIG, type PullConfig } from './pull-state.ts'
export { PieceScheduler, type SchedulerInit } from './scheduler.ts'
export { resolveAgreed, resolveFromPeers, type Resolution } from './resolve.ts'
export { ProgressTracker, type PullProgress } from './progress.ts'
export { pullDirect, canPullDirect } from './direct-pull.ts'
