/**
 * The daemon's metrics and admin endpoint (`admin`, loopback by default; docs/operations.md "Monitoring"). Started
 * before the store and the libp2p node, so that `/healthz` answers and `/readyz` says 503 while the node starts;
 * `/readyz` answers 200 once the store is open, libp2p listens and the control socket is up, and 503 again from
 * the moment the node begins to stop.
 */
import { isNixRef } from '../nix/path-record.ts'
import type { P2P } from '../p2p/service.ts'
import type { Store } from '../store/store.ts'
import { blobSizes } from '../gc/inventory.ts'
import { NodeMetrics, peerClassifier, startAdminServer } from '../metrics/index.ts'
import { describeError, isErrno } from '../util/errors.ts'
import type { ListeningServer } from '../util/http-server.ts'
import { createLogger, type Logger } from '../util/logger.ts'
import { DEFAULT_ADMIN, parseListenAddress, type NodeConfig } from './config.ts'
import type { Server } from 'node:http'

/** The node's HTTP endpoints the metrics count requests of. */
export interface ObservedEndpoints {
  nixCache?: Server
  registry?: Server
}

export class AdminService {
  readonly metrics = new NodeMetrics()
  private readonly config: NodeConfig
  private readonly logger: Logger
  private server: ListeningServer | undefined
  private store: Store | undefined
  private p2p: P2P | undefined
  private stopping = false

  private constructor (config: NodeConfig, logger: Logger) {
    this.config = config
    this.logger = logger
  }

  /** Listens on `admin` unless it is `off`; the default address taken (another node on this host) only warns. */
  static async start (config: NodeConfig, logger: Logger = createLogger('admin')): Promise<AdminService> {
    const service = new AdminService(config, logger)
    const address = parseListenAddress(config.admin)
    if (address === undefined) return service
    try {
      service.server = await startAdminServer({ host: address.host, port: address.port, metrics: service.metrics, readiness: () => service.readiness() })
      logger.info(`admin endpoint (metrics, health) at ${service.server.url}`)
    } catch (err) {
      if (!(err instanceof Error && err.name === 'AdminAddressInUseError') || config.admin !== DEFAULT_ADMIN) throw err
      logger.warn(`the admin endpoint is off: ${DEFAULT_ADMIN} is in use (set admin to another host:port)`)
    }
    return service
  }

  /** `http://host:port`, when the endpoint runs. */
  get url (): string | undefined {
    return this.server?.url
  }

  storeOpened (store: Store): void {
    this.store = store
  }

  /** The node is up (libp2p listening, control socket open): metrics read from it from now on. */
  nodeStarted (p2p: P2P, endpoints: ObservedEndpoints): void {
    this.p2p = p2p
    const store = this.store ?? p2p.puller.store
    this.metrics.watch({
      stats: p2p.exchange.stats,
      puller: p2p.puller,
      exchange: p2p.exchange,
      connectedPeers: () => p2p.node.getPeers().length,
      peerClass: peerClassifier(this.config.trustedPeers, this.config.allowList),
      storeUsage: async () => {
        const { sizes, storeBytes } = await blobSizes(store)
        return { bytes: storeBytes, blobs: sizes.size }
      },
      images: async () => (await store.refs.list()).filter(r => !isNixRef(r.ref)).length,
      containerStates: async () => await this.containerStates()
    })
    if (endpoints.nixCache !== undefined) this.metrics.observe(endpoints.nixCache, 'nix-cache')
    if (endpoints.registry !== undefined) this.metrics.observe(endpoints.registry, 'registry')
  }

  /** From now on `/readyz` answers 503. */
  stopStarted (): void {
    this.stopping = true
  }

  readiness (): Record<string, boolean> {
    const node = this.p2p?.node
    return {
      store: this.store !== undefined,
      p2p: node?.status === 'started' && node.getMultiaddrs().length > 0,
      // nodeStarted is called once the control socket is up.
      control: this.p2p !== undefined,
      running: !this.stopping
    }
  }

  async close (): Promise<void> {
    this.stopping = true
    this.metrics.stop()
    await this.server?.close()
    this.server = undefined
  }

  /** Containers by runc state; none when runc cannot be asked (the gauge is then empty, the scrape still works). */
  private async containerStates (): Promise<Map<string, number>> {
    const states = new Map<string, number>()
    try {
      const { listContainers } = await import('../runner/manage.ts')
      for (const container of await listContainers({ dataDir: this.config.dataDir })) {
        states.set(container.status, (states.get(container.status) ?? 0) + 1)
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) this.logger.debug(`container states unavailable: ${describeError(err)}`)
    }
    return states
  }
}
