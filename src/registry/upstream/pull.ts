/**
 * Importing an image from an upstream registry into the store (`emergence image pull docker://...`): the root
 * (a manifest, or an index and the manifest of the wanted platform), then config and layers, each streamed into
 * the store and verified against its digest and size as it is written. All-or-nothing: every blob is committed
 * under one store lease, and the ref is written last, so a failed pull leaves no ref (and GC takes the blobs).
 * Blobs the store has already are not fetched again.
 */
import type { Digest } from '../../oci/digest.ts'
import { InvalidManifestError } from '../../oci/errors.ts'
import { isIndexMediaType, isManifestMediaType } from '../../oci/media-types.ts'
import { hostPlatform, selectPlatform } from '../../oci/platform.ts'
import { parseIndex, parseManifest, type Descriptor, type Platform } from '../../oci/types.ts'
import { RefExistsError } from '../../p2p/errors.ts'
import type { Lease } from '../../store/leases.ts'
import type { Store } from '../../store/store.ts'
import { Semaphore } from '../../util/semaphore.ts'
import { RegistryClient, type FetchedManifest } from './client.ts'
import type { Credentials } from './credentials.ts'
import { parseImageUrl } from './image-url.ts'

export interface RegistryPullOptions {
  /** The ref written. @default `<registry>/<repository>:<tag>` */
  tagAs?: string
  /** @default the host's */
  platform?: Platform
  credentials?: Credentials
  /** Talk plain HTTP to the registry. @default false */
  plainHttp?: boolean
  /** Move a ref the store has that points at other content. @default false */
  force?: boolean
  signal?: AbortSignal
  /** Called after each blob with the bytes fetched so far. */
  onProgress?: (progress: { blobsDone: number, blobsTotal: number, bytes: number }) => void
}

export interface RegistryPullResult {
  ref: string
  /** The root as the registry serves it (an index or a manifest); the ref points at it. */
  descriptor: Descriptor
  /** The manifest of the chosen platform. */
  manifest: Descriptor
  /** Every blob of the image now in the store (for announcing to peers). */
  blobs: Digest[]
  /** Bytes fetched from the registry (blobs the store had are not). */
  fetchedBytes: number
}

const PARALLEL_BLOBS = 3

export async function pullFromRegistry (store: Store, url: string, options: RegistryPullOptions = {}): Promise<RegistryPullResult> {
  const image = parseImageUrl(url)
  const ref = options.tagAs ?? image.storeRef
  const signal = options.signal ?? new AbortController().signal
  const client = new RegistryClient({ host: image.apiHost, ...(options.plainHttp !== undefined ? { plainHttp: options.plainHttp } : {}), ...(options.credentials !== undefined ? { credentials: options.credentials } : {}) })
  const root = await client.manifest(image.repository, image.digest ?? image.tag ?? 'latest', signal)
  await keepRef(store, ref, root.descriptor.digest, options.force)
  const lease = await store.createLease()
  try {
    await storeBytes(store, root, lease)
    const manifest = await platformManifest(client, image.repository, root, options.platform ?? hostPlatform(), signal)
    await storeBytes(store, manifest, lease)
    const parsed = parseManifest(manifest.bytes)
    const blobs = [parsed.config, ...parsed.layers]
    let fetchedBytes = 0
    let done = 0
    await forEachLimit(blobs, PARALLEL_BLOBS, signal, async (blob, inner) => {
      fetchedBytes += await fetchBlob(store, client, image.repository, blob, lease, inner)
      options.onProgress?.({ blobsDone: ++done, blobsTotal: blobs.length, bytes: fetchedBytes })
    })
    await keepRef(store, ref, root.descriptor.digest, options.force)
    await store.refs.set(ref, root.descriptor)
    const all = new Set<Digest>([root.descriptor.digest, manifest.descriptor.digest, ...blobs.map(b => b.digest)])
    return { ref, descriptor: root.descriptor, manifest: manifest.descriptor, blobs: [...all], fetchedBytes }
  } finally {
    await lease.release()
  }
}

async function keepRef (store: Store, ref: string, digest: Digest, force: boolean | undefined): Promise<void> {
  if (force === true) return
  const existing = await store.refs.get(ref)
  if (existing !== undefined && existing.digest !== digest) throw new RefExistsError(ref, existing.digest, digest)
}

async function storeBytes (store: Store, fetched: FetchedManifest, lease: Lease): Promise<void> {
  await store.blobs.write(fetched.descriptor.digest, [fetched.bytes], { size: fetched.bytes.byteLength, lease })
}

/** The root itself when it is a manifest; the wanted platform's manifest when it is an index. */
async function platformManifest (client: RegistryClient, repository: string, root: FetchedManifest, platform: Platform, signal: AbortSignal): Promise<FetchedManifest> {
  if (isManifestMediaType(root.descriptor.mediaType)) return root
  if (!isIndexMediaType(root.descriptor.mediaType)) throw new InvalidManifestError(`${root.descriptor.digest} (${root.descriptor.mediaType}) is neither an image manifest nor an index`)
  const chosen = selectPlatform(parseIndex(root.bytes).manifests, platform)
  const child = await client.manifest(repository, chosen.digest, signal)
  if (!isManifestMediaType(child.descriptor.mediaType)) throw new InvalidManifestError(`${chosen.digest} for ${platform.os}/${platform.architecture} is not an image manifest`)
  return child
}

/** Streams one blob into the store unless it is there; returns the bytes fetched. */
async function fetchBlob (store: Store, client: RegistryClient, repository: string, blob: Descriptor, lease: Lease, signal: AbortSignal): Promise<number> {
  await lease.add(blob.digest)
  if (await store.blobs.has(blob.digest)) return 0
  await store.blobs.write(blob.digest, client.blob(repository, blob, signal), { size: blob.size, lease, signal })
  return blob.size
}

/** Runs `fn` over `items`, `limit` at a time; the first failure aborts the rest, which are waited for, and is thrown. */
async function forEachLimit<T> (items: T[], limit: number, signal: AbortSignal, fn: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController()
  const inner = AbortSignal.any([signal, controller.signal])
  const limiter = new Semaphore(limit)
  const results = await Promise.allSettled(items.map(async item => {
    await limiter.run(async () => { await fn(item, inner) }, inner).catch((err: unknown) => {
      if (!controller.signal.aborted) controller.abort(err)
      throw err
    })
  }))
  if (results.some(r => r.status === 'rejected')) throw controller.signal.reason
}
