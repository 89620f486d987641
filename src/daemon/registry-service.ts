/**
 * The daemon's OCI registry mirror (docs/registry.md): started on `registry` (loopback by default) unless it is
 * `off`, serving the store and, for what the store lacks, the node's peers.
 */
import type { P2P } from '../p2p/service.ts'
import type { RegistryMirror } from '../registry/index.ts'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'
import { createLogger, type Logger } from '../util/logger.ts'
import { DEFAULT_REGISTRY, parseListenAddress, type NodeConfig } from './config.ts'

/** Starts the mirror; undefined when it is off, or when the default port is taken (another node on this host). */
export async function startRegistry (config: NodeConfig, store: Store, p2p: P2P, logger: Logger = createLogger('registry')): Promise<RegistryMirror | undefined> {
  const address = parseListenAddress(config.registry)
  if (address === undefined) return undefined
  const { createNodeMirror, parseUpstream } = await import('../registry/index.ts')
  const upstreams = config.registryUpstreams.map(parseUpstream)
  try {
    const mirror = await createNodeMirror(store, p2p, { host: address.host, port: address.port, upstreams, logger })
    logger.info(`OCI registry mirror at ${mirror.url}${upstreams.length > 0 ? `, pulling through from ${upstreams.map(u => u.registry).join(', ')}` : ''}`)
    return mirror
  } catch (err) {
    if (isErrno(err, 'EADDRINUSE') && config.registry === DEFAULT_REGISTRY) {
      logger.warn(`the registry mirror is off: ${DEFAULT_REGISTRY} is in use (set registry to another host:port)`)
      return undefined
    }
    throw err
  }
}
