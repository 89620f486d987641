/**
 * The daemon's OCI registry mirror (docs/registry.md): started on `registry` (loopback by default) unless it is
 * `off`, serving the store and, for what the store lacks, the node's peers.
 */
import { recordUse } from '../gc/usage.ts'
import type { Digest } from '../oci/digest.ts'
import type { P2P } from '../p2p/service.ts'
import type { PeerFetcher, PullThrough, RegistryMirror } from '../registry/index.ts'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'
import { portInUse } from './errors.ts'
import { createLogger, type Logger } from '../util/logger.ts'
import { DEFAULT_REGISTRY, parseListenAddress, type NodeConfig } from './config.ts'

/** Starts the mirror; undefined when it is off, or when the default port is taken (another node on this host). */
export async function startRegistry (config: NodeConfig, store: Store, p2p: P2P, logger: Logger = createLogger('registry')): Promise<RegistryMirror | undefined> {
  const address = parseListenAddress(config.registry)
  if (address === undefined) return undefined
  const { createNodeMirror, parseUpstream } = await import('../registry/index.ts')
  const upstreams = config.registryUpstreams.map(parseUpstream)
  try {
    // A manifest served to a client is an image in use: the automatic GC keeps it longer.
    const onManifestServed = (digest: Digest): void => { recordUse(store, [digest]).catch(() => {}) }
    const mirror = await createNodeMirror(store, p2p, { host: address.host, port: address.port, upstreams, logger, onManifestServed })
    logger.info(`OCI registry mirror at ${mirror.url}${upstreams.length > 0 ? `, pulling through from ${upstreams.map(u => u.registry).join(', ')}` : ''}`)
    return mirror
  } catch (err) {
    if (isErrno(err, 'EADDRINUSE') && config.registry === DEFAULT_REGISTRY) {
      logger.warn(`the registry mirror is off: ${DEFAULT_REGISTRY} is in use (set registry to another host:port)`)
      return undefined
    }
    throw portInUse(err, 'the registry mirror', config.registry, '--registry', 'registry')
  }
}

/**
 * What `emergence pull <ref>` pulls through when the ref names one of the node's `registryUpstreams`
 * (docs/registry.md "Pull-through"): a source asking the peers first and the upstream for what they lack.
 * Undefined for any other ref, or a node without upstreams.
 */
export type PullThroughFor = (ref: string) => Promise<PullThrough | undefined>

export function pullThroughFor (config: NodeConfig, store: Store, p2p: P2P): PullThroughFor {
  let upstream: PeerFetcher | undefined
  return async ref => {
    if (config.registryUpstreams.length === 0) return undefined
    const { parseUpstream, pullThrough, upstreamFetcher, upstreamOf } = await import('../registry/index.ts')
    const upstreams = config.registryUpstreams.map(parseUpstream)
    const origin = upstreamOf(ref, upstreams)
    if (origin === undefined) return undefined
    upstream ??= upstreamFetcher(store, upstreams, { announce: digest => { p2p.blobAdded(digest) }, logger: createLogger('registry') })
    return await pullThrough(p2p, store, upstream, origin)
  }
}
