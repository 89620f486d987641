/**
 * Pulling an image (docs/architecture.md, docs/protocol.md §7 "Images"): resolve the ref (a tag from trusted
 * peers, a digest from nobody), fetch the root, pick the platform's manifest from an index, fetch config and
 * layers in parallel, and write the ref into index.json last, so the image is visible only when all its blobs
 * are. All blobs are committed under one store lease, released at the end. Only the chosen platform's blobs are
 * fetched (as containerd does); the ref names the root as resolved, so every peer answers RESOLVE alike. A ref
 * the store already has is moved to other content only with `force` (RefExistsError otherwise), checked before
 * anything is fetched and again just before the ref is written.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { isDigest, type Digest } from '../../oci/digest.ts'
import { InvalidManifestError } from '../../oci/errors.ts'
import { isIndexMediaType, isManifestMediaType } from '../../oci/media-types.ts'
import { selectPlatform, hostPlatform } from '../../oci/platform.ts'
import { formatReference, parseReference } from '../../oci/reference.ts'
import { MAX_JSON_BYTES, parseIndex, parseManifest, type Descriptor, type Platform } from '../../oci/types.ts'
import { sniffMediaType } from '../../oci/walk.ts'
import type { BlobPullResult } from './blob-pull.ts'
import { RefExistsError } from '../errors.ts'
import { mapLimit } from '../../util/map-limit.ts'
import { ProgressTracker, type PullProgress } from './progress.ts'
import type { Puller } from './puller.ts'

export interface PullImageOptions {
  signal?: AbortSignal
  /** @default the puller's platform, else the host's */
  platform?: Platform
  onProgress?: (progress: PullProgress) => void
  /** The ref written into index.json. @default `name:tag`, `name@digest`, or the bare digest, as given */
  tagAs?: string
  /** Move the ref if the store has it pointing at other content. @default false */
  force?: boolean
  /**
   * Where the tag and the blobs come from: the registry's pull-through (docs/registry.md) asks the peers first
   * and an upstream registry for what they lack. @default the puller
   */
  source?: Pick<Puller, 'resolveTag' | 'pullBlob'>
}

export interface ImagePullResult {
  /** The ref written into index.json. */
  ref: string
  /** The root as resolved (an index or a manifest); the ref points at it. */
  descriptor: Descriptor
  /** The manifest chosen for the platform. */
  manifest: Descriptor
  progress: PullProgress
  /** Verified bytes received from peers, in total and by peer. */
  fetchedBytes: number
  fromPeers: Record<string, number>
}

/** What to fetch and where it goes: a ref to write, or (a bare digest pulled without `tagAs`) a pin. */
interface Target { root?: Digest, tag?: string, writeAs?: string }

function parseTarget (ref: string, tagAs: string | undefined): Target {
  // A bare digest names content, not an image name: it is kept by a pin (as `image pin` does), not under a ref
  // that looks like a tag.
  if (isDigest(ref)) return { root: ref, ...(tagAs !== undefined ? { writeAs: tagAs } : {}) }
  const parsed = parseReference(ref)
  const writeAs = tagAs ?? (parsed.tag !== undefined ? `${parsed.name}:${parsed.tag}` : formatReference(parsed))
  if (parsed.digest !== undefined) return { root: parsed.digest, writeAs }
  return { tag: formatReference(parsed), writeAs }
}

export async function pullImage (puller: Puller, ref: string, options: PullImageOptions = {}): Promise<ImagePullResult> {
  const target = await heldTarget(puller, parseTarget(ref, options.tagAs), options)
  const progress = new ProgressTracker(target.writeAs ?? ref, options.onProgress)
  const fetched = { bytes: 0, fromPeers: {} as Record<string, number> }
  const hints: PeerId[] = []
  // Stops blob pulls still running when another one failed, before the lease goes.
  const controller = new AbortController()
  const signal = options.signal !== undefined ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
  const lease = await puller.store.createLease()
  const source = options.source ?? puller
  const blob: FetchBlob = async (descriptor, maxSize) => {
    const result = await source.pullBlob(descriptor, {
      lease,
      signal,
      providers: hints,
      ...(maxSize !== undefined ? { maxSize } : {}),
      onStart: (size, resumed) => {
        if (descriptor.size === undefined) progress.addBlobs(0, size)
        progress.addBytes(resumed)
      },
      onPiece: (peer, bytes) => { progress.addBytes(bytes, peer) }
    })
    if (result.alreadyPresent) {
      if (descriptor.size === undefined) progress.addBlobs(0, result.size)
      progress.addBytes(result.size)
    }
    fetched.bytes += result.fetchedBytes
    for (const [peer, bytes] of Object.entries(result.fromPeers)) {
      fetched.fromPeers[peer] = (fetched.fromPeers[peer] ?? 0) + bytes
      addHint(hints, peer)
    }
    progress.blobDone()
    return result
  }
  try {
    let root: Descriptor
    if (target.tag !== undefined) {
      const resolution = await source.resolveTag(target.tag, { signal })
      root = resolution.descriptor
      hints.push(...resolution.peers)
      await keepRef(puller, target.writeAs, root.digest, options.force)
    } else {
      const digest = target.root as Digest
      await keepRef(puller, target.writeAs, digest, options.force)
      progress.addBlobs(1, 0)
      const result = await blob({ digest }, MAX_JSON_BYTES)
      root = await describeRoot(puller, digest, result.size)
    }
    progress.phase('fetching')
    const manifest = await fetchManifest(puller, root, target.tag === undefined, options.platform ?? puller.platform ?? hostPlatform(), progress, blob)
    if (target.writeAs !== undefined) {
      await keepRef(puller, target.writeAs, root.digest, options.force)
      await puller.store.refs.set(target.writeAs, root)
    } else {
      await puller.store.pins.add(root.digest, 'pulled by digest')
    }
    progress.phase('done')
    return { ref: target.writeAs ?? root.digest, descriptor: root, manifest, progress: progress.snapshot(), fetchedBytes: fetched.bytes, fromPeers: fetched.fromPeers }
  } finally {
    controller.abort(new Error('image pull ended'))
    await lease.release()
  }
}

/**
 * A tag the store already holds is not asked of peers: the pull completes what the ref names, by digest (no trust
 * needed, no network when every blob is in) and moves nothing. `force` (or `tagAs`) asks the trusted peers.
 */
async function heldTarget (puller: Puller, target: Target, options: PullImageOptions): Promise<Target> {
  if (target.tag === undefined || target.writeAs === undefined || options.force === true || options.tagAs !== undefined) return target
  const held = await puller.store.refs.get(target.writeAs)
  return held !== undefined ? { root: held.digest, writeAs: target.writeAs } : target
}

/** Throws RefExistsError when `ref` points at other content than `digest` and the caller did not force it. */
async function keepRef (puller: Puller, ref: string | undefined, digest: Digest, force: boolean | undefined): Promise<void> {
  if (force === true || ref === undefined) return
  const existing = await puller.store.refs.get(ref)
  if (existing !== undefined && existing.digest !== digest) throw new RefExistsError(ref, existing.digest, digest)
}

type FetchBlob = (descriptor: { digest: Digest, size?: number }, maxSize?: number) => Promise<BlobPullResult>

/** Root (index or manifest) -> the platform's manifest -> config and layers in parallel. */
async function fetchManifest (puller: Puller, root: Descriptor, rootFetched: boolean, platform: Platform, progress: ProgressTracker, blob: FetchBlob): Promise<Descriptor> {
  let current = root
  for (let depth = 0; ; depth++) {
    if (depth > 0 || !rootFetched) {
      progress.addBlobs(1, current.size)
      await blob(current, MAX_JSON_BYTES)
    }
    if (isManifestMediaType(current.mediaType)) break
    if (!isIndexMediaType(current.mediaType) || depth >= 4) throw new InvalidManifestError(`${current.digest} (${current.mediaType}) is neither an image manifest nor an index`)
    current = selectPlatform(parseIndex(await puller.store.blobs.readBytes(current.digest)).manifests, platform)
  }
  const manifest = parseManifest(await puller.store.blobs.readBytes(current.digest))
  const blobs = [manifest.config, ...manifest.layers]
  progress.addBlobs(blobs.length, blobs.reduce((sum, d) => sum + d.size, 0))
  await mapLimit(blobs, puller.parallelBlobs, async d => { await blob(d) })
  return current
}

/** A descriptor for a root fetched by digest alone: its media type comes from its bytes. */
async function describeRoot (puller: Puller, digest: Digest, size: number): Promise<Descriptor> {
  const mediaType = sniffMediaType(await puller.store.blobs.readBytes(digest))
  if (mediaType === undefined) throw new InvalidManifestError(`${digest} is neither an image manifest nor an index`)
  return { mediaType, digest, size }
}

function addHint (hints: PeerId[], text: string): void {
  if (hints.some(p => p.toString() === text)) return
  try {
    hints.push(peerIdFromString(text))
  } catch {
    // Keys of fromPeers are peer ids we parsed before; nothing else gets here.
  }
}
