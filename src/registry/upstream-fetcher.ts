/**
 * Pull-through: what neither the node nor its peers hold is fetched from the registry the request names
 * (containerd's `ns`, or a host at the front of the name), when the operator listed it in `registryUpstreams`.
 * Blobs are verified while they stream into the store, as every blob is, and announced at once, so that the next
 * node's mirror finds them at a peer and the origin is asked for each blob once per cluster, not once per node.
 * Tags are the upstream's word (the operator chose the upstream); manifests are kept byte for byte.
 */
import type { Digest } from '../oci/digest.ts'
import type { Store } from '../store/store.ts'
import { BlobTooLargeError } from '../p2p/errors.ts'
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import type { Origin, PeerFetcher } from './fetcher.ts'
import type { Upstream } from './upstream-address.ts'
import { RegistryClient, dockerCredentials, UpstreamResponseError } from './upstream/index.ts'

/** Refuses a blob of unknown size past `limit` bytes (its digest is checked only at the end). */
async function * bounded (source: AsyncIterable<Uint8Array>, limit: number, digest: Digest): AsyncGenerator<Uint8Array> {
  let total = 0
  for await (const chunk of source) {
    total += chunk.byteLength
    if (total > limit) throw new BlobTooLargeError(digest, total, limit)
    yield chunk
  }
}

export interface UpstreamFetcherInit {
  /** Called for every blob stored from an upstream (the node announces it to peers). */
  announce?: (digest: Digest) => void
  logger?: Logger
}

export function upstreamFetcher (store: Store, upstreams: Upstream[], init: UpstreamFetcherInit = {}): PeerFetcher {
  const logger = init.logger ?? silentLogger
  const clients = new Map<string, Promise<RegistryClient>>()
  const clientFor = async (origin: Origin | undefined): Promise<RegistryClient | undefined> => {
    const upstream = upstreams.find(u => u.registry === origin?.registry)
    if (upstream === undefined) return undefined
    let client = clients.get(upstream.registry)
    if (client === undefined) {
      client = dockerCredentials(upstream.registry).catch(() => undefined).then(credentials => new RegistryClient({
        host: upstream.apiHost,
        plainHttp: upstream.plainHttp,
        ...(credentials !== undefined ? { credentials } : {})
      }))
      clients.set(upstream.registry, client)
    }
    return await client
  }
  const notFound = (err: unknown): boolean => err instanceof UpstreamResponseError && err.status === 404
  return {
    resolveTag: async (ref, { signal, lease, origin }) => {
      const client = await clientFor(origin)
      if (client === undefined || origin === undefined) return undefined
      const tag = ref.slice(ref.lastIndexOf(':') + 1)
      try {
        const { descriptor, bytes } = await client.manifest(origin.repository, tag, signal)
        await store.blobs.write(descriptor.digest, [bytes], { size: bytes.byteLength, lease })
        init.announce?.(descriptor.digest)
        return descriptor
      } catch (err) {
        if (notFound(err)) return undefined
        throw err
      }
    },
    fetchBlob: async (blob, { signal, lease, origin, maxSize }) => {
      const client = await clientFor(origin)
      if (client === undefined || origin === undefined) return false
      try {
        const bytes = bounded(client.blob(origin.repository, blob, signal), blob.size ?? maxSize, blob.digest)
        await store.blobs.write(blob.digest, bytes, { ...(blob.size !== undefined ? { size: blob.size } : {}), lease, signal })
      } catch (err) {
        if (notFound(err)) return false
        logger.debug(`${origin.registry}: ${blob.digest}: ${describeError(err)}`)
        throw err
      }
      init.announce?.(blob.digest)
      return true
    }
  }
}
