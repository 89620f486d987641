/**
 * The node daemon (`emergence node start`): opens the store, starts the P2P subsystem (libp2p node, blob
 * exchange, routing, puller) and the Nix side (nix-service.ts: share/pull routes, binary cache), announces what
 * the store holds, and answers the CLI on the control socket.
 * SIGINT/SIGTERM stop it cleanly.
 */
import type { Server } from 'node:http'
import { join } from 'node:path'
import { z } from 'zod'
import { MigrationService, nodeArtefacts } from '../automaton/migrate/index.ts'
import { isNixRef } from '../nix/path-record.ts'
import { P2P } from '../p2p/service.ts'
import { parsePlatform } from '../oci/platform.ts'
import { isDigest, type Digest } from '../oci/digest.ts'
import { storeRoot } from '../store/paths.ts'
import { Store } from '../store/store.ts'
import { EmergenceError } from '../util/errors.ts'
import { portInUse } from './errors.ts'
import { createLogger, type Logger } from '../util/logger.ts'
import type { NodeConfig } from './config.ts'
import { assertNoDaemon, startControlServer, stopControlServer, type Routes } from './control-server.ts'
import { eventsOf } from './events.ts'
import { NixService } from './nix-service.ts'
import { pullThroughFor, startRegistry, type PullThroughFor } from './registry-service.ts'
import type { RegistryMirror } from '../registry/index.ts'
import { socketPath } from './socket-path.ts'
import { AdminService } from './admin-service.ts'
import { AutoGc } from '../gc/service.ts'
import type { ProtectedDigests } from '../gc/protect.ts'
import { recordUse } from '../gc/usage.ts'
import { startNodeSync, type SyncService } from '../sync/index.ts'


/** `force`: move a ref the store already has to what the pull resolved (RefExistsError otherwise). */
const pullSchema = z.object({ ref: z.string().min(1), platform: z.string().optional(), tagAs: z.string().optional(), force: z.boolean().optional() })
const digestsSchema = z.object({ digests: z.array(z.string().refine(isDigest)) })
const dialSchema = z.object({ address: z.string().min(1) })
const migrateSchema = z.object({ name: z.string().min(1), to: z.string().min(1), stopTimeoutMs: z.number().int().nonnegative().optional() })
const syncItemSchema = z.object({ item: z.string().min(1).max(1024) })

function parseBody<T> (schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw new EmergenceError(`bad request: ${parsed.error.issues[0]?.message ?? 'invalid body'}`, { code: 'BAD_REQUEST' })
  return parsed.data
}

export interface NodeStatus {
  peerId: string
  /** The daemon's process id: `node stop` waits until it is gone. */
  pid: number
  addresses: string[]
  /** The TLS data lane's port (docs/protocol.md §9); absent when lanes are off. */
  lanePort?: number
  dataDir: string
  peers: number
  /** Refs in the store, Nix records (`nix/...`) apart. */
  images: number
  /** Nix paths this node shares (`nix/<hashPart>:info` refs). */
  nixPaths: number
  /** The Nix binary cache endpoint, when it runs. */
  nixCache?: string
  /** The OCI registry mirror (docs/registry.md), when it runs. */
  registry?: string
  /** The admin endpoint (metrics, /healthz, /readyz; docs/operations.md "Monitoring"), when it runs. */
  admin?: string
  /** The node's Nix signing key, as `trusted-public-keys` and other nodes' `nixTrustedKeys` take it. */
  nixPublicKey: string
  uptimeSeconds: number
  servedBytes: number
  receivedBytes: number
}

/** What other subsystems give the daemon at start. */
export interface DaemonHooks {
  /** Digests the automatic GC must keep (the cluster's desired set); called at each pass that evicts. */
  protectedDigests?: ProtectedDigests
}

export class Daemon {
  readonly config: NodeConfig
  readonly store: Store
  readonly p2p: P2P
  readonly nix: NixService
  private readonly logger: Logger
  private readonly started = Date.now()
  private server: Server | undefined
  private registry: RegistryMirror | undefined
  /** `emergence pull` of a ref naming a configured upstream pulls through from it. */
  private readonly pullThrough: PullThroughFor
  private migration: MigrationService | undefined
  private admin: AdminService | undefined
  /** The automatic GC (docs/operations.md "Automatic GC"). */
  private autoGc: AutoGc | undefined
  /** Cluster sync (docs/automata.md "Cluster sync"). */
  sync: SyncService | undefined
  private stopping: Promise<void> | undefined
  private readonly stopped: PromiseWithResolvers<void> = Promise.withResolvers()

  private constructor (config: NodeConfig, store: Store, p2p: P2P, nix: NixService, logger: Logger) {
    this.config = config
    this.store = store
    this.p2p = p2p
    this.nix = nix
    this.logger = logger
    this.pullThrough = pullThroughFor(config, store, p2p)
  }

  static async start (config: NodeConfig, logger: Logger = createLogger('daemon'), hooks: DaemonHooks = {}): Promise<Daemon> {
    // Before anything else: a second node on the same data dir would share its identity and its store.
    await assertNoDaemon(socketPath(config.dataDir))
    // Up first, so that /healthz answers and /readyz says 503 while the node starts.
    const admin = await AdminService.start(config)
    const closeAdmin = async (err: unknown): Promise<never> => { await admin.close(); throw err }
    const store = await Store.open(storeRoot(config.dataDir)).catch(closeAdmin)
    admin.storeOpened(store)
    const p2p = await P2P.create({
      store,
      identityDir: join(config.dataDir, 'p2p'),
      listen: config.listen,
      bootstrap: config.bootstrap,
      allowList: config.allowList,
      trustedPeers: config.trustedPeers,
      mdns: config.mdns,
      exchange: {
        lanes: config.lanePort === 'off' ? { enabled: false } : { port: config.lanePort, plaintext: config.lanePlaintext },
        // A tag a peer resolves here is an image in use in the cluster: the automatic GC keeps it longer.
        onResolved: descriptor => { recordUse(store, [descriptor.digest]).catch(() => {}) }
      },
      ...(config.uploadLimit > 0 ? { uploadRate: config.uploadLimit } : {}),
      ...(config.downloadLimit > 0 ? { downloadRate: config.downloadLimit } : {}),
      metricsRegistry: admin.metrics.registry,
      logger: createLogger('p2p')
    }).catch(async err => await closeAdmin(config.lanePort === 'off' ? err : portInUse(err, 'the data lane', `port ${config.lanePort}`, '--lane-port', 'lanePort')))
    let nix: NixService
    try {
      nix = await NixService.start(config, store, p2p)
    } catch (err) {
      await p2p.stop()
      return await closeAdmin(err)
    }
    const daemon = new Daemon(config, store, p2p, nix, logger)
    daemon.admin = admin
    try {
      daemon.registry = await startRegistry(config, store, p2p)
      daemon.migration = daemon.startMigration()
      await daemon.migration.start()
      daemon.server = await startControlServer(socketPath(config.dataDir), daemon.routes(), logger)
    } catch (err) {
      await daemon.migration?.stop()
      await daemon.registry?.close()
      await nix.stop()
      await p2p.stop()
      return await closeAdmin(err)
    }
    admin.nodeStarted(p2p, { ...(nix.cache !== undefined ? { nixCache: nix.cache.server } : {}), ...(daemon.registry !== undefined ? { registry: daemon.registry.server } : {}) })
    const announced = await p2p.announceAll()
    logger.info(`announced ${announced} blobs`)
    try {
      daemon.sync = await startNodeSync({ store, p2p, nix: nix.context, dataDir: config.dataDir, publishers: config.syncPublishers, trustedPeers: config.trustedPeers, logger: createLogger('sync') })
    } catch (err) {
      await daemon.stop()
      throw err
    }
    daemon.autoGc = new AutoGc({
      dataDir: config.dataDir,
      store,
      policy: { highWatermark: config.gcHighWatermark, lowWatermark: config.gcLowWatermark, maxStoreSize: config.gcMaxStoreSize },
      intervalMs: config.gcInterval * 1000,
      onRemoved: async digests => { for (const digest of digests) await p2p.blobRemoved(digest) },
      onPass: report => { admin.metrics.gcPass(report.freedBytes) },
      logger: createLogger('gc'),
      protectedDigests: hooks.protectedDigests ?? (async () => await daemon.sync?.protectedDigests() ?? new Set<string>())
    })
    daemon.autoGc.start()
    return daemon
  }

  /** Resolves when the daemon has stopped. */
  get done (): Promise<void> {
    return this.stopped.promise
  }

  async status (): Promise<NodeStatus> {
    const counters = this.p2p.counters()
    const refs = await this.store.refs.list()
    const nix = await this.nix.status()
    return {
      peerId: this.p2p.peerId.toString(),
      pid: process.pid,
      addresses: this.p2p.addresses,
      ...(this.p2p.exchange.lanes?.port !== undefined ? { lanePort: this.p2p.exchange.lanes.port } : {}),
      dataDir: this.config.dataDir,
      peers: this.p2p.node.getPeers().length,
      images: refs.filter(r => !isNixRef(r.ref)).length,
      nixPaths: nix.paths,
      ...(nix.cacheUrl !== undefined ? { nixCache: nix.cacheUrl } : {}),
      ...(this.registry !== undefined ? { registry: this.registry.url } : {}),
      ...(this.admin?.url !== undefined ? { admin: this.admin.url } : {}),
      nixPublicKey: nix.publicKey,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      servedBytes: counters.servedTotal,
      receivedBytes: counters.receivedTotal
    }
  }

  /** Automaton migration (docs/automata.md "Migration"): accepted from trusted peers, else the allow-list. */
  private startMigration (): MigrationService {
    const artefacts = nodeArtefacts({ dataDir: this.config.dataDir, store: this.store, p2p: this.p2p, nix: this.nix.context, logger: createLogger('runner') })
    return new MigrationService({ node: this.p2p.node, p2p: this.p2p, store: this.store, artefacts }, {
      dataDir: this.config.dataDir,
      trustedPeers: this.config.trustedPeers,
      allowList: this.config.allowList,
      logger: createLogger('migrate')
    })
  }

  private routes (): Routes {
    return {
      'GET /v1/status': async () => await this.status(),
      'GET /v1/peers': async () => {
        const counters = this.p2p.counters()
        return this.p2p.node.getConnections().map(c => ({
          peerId: c.remotePeer.toString(),
          address: c.remoteAddr.toString(),
          servedBytes: counters.served[c.remotePeer.toString()] ?? 0,
          receivedBytes: counters.received[c.remotePeer.toString()] ?? 0
        }))
      },
      'GET /v1/counters': async () => this.p2p.counters(),
      'POST /v1/dial': async ({ body }) => ({ peerId: (await this.p2p.dial(parseBody(dialSchema, body).address)).toString() }),
      'POST /v1/pull': async ({ body, signal }) => {
        const request = parseBody(pullSchema, body)
        return eventsOf(async emit => {
          // A ref naming one of the node's upstreams pulls through from it (docs/registry.md "Pull-through").
          const through = await this.pullThrough(request.ref)
          try {
            const result = await this.p2p.pullImage(request.ref, {
              signal,
              onProgress: emit,
              ...(request.platform !== undefined ? { platform: parsePlatform(request.platform) } : {}),
              ...(request.tagAs !== undefined ? { tagAs: request.tagAs } : {}),
              ...(request.force !== undefined ? { force: request.force } : {}),
              ...(through !== undefined ? { source: through } : {})
            })
            await recordUse(this.store, [result.descriptor.digest])
            return through !== undefined ? { ...result, fromUpstream: { [through.origin.registry]: through.fromUpstream } } : result
          } finally {
            await through?.close()
          }
        })
      },
      'POST /v1/announce': async ({ body }) => {
        const { digests } = parseBody(digestsSchema, body)
        for (const digest of digests) this.p2p.blobAdded(digest as Digest)
        return { announced: digests.length }
      },
      'POST /v1/withdraw': async ({ body }) => {
        const { digests } = parseBody(digestsSchema, body)
        for (const digest of digests) await this.p2p.blobRemoved(digest as Digest)
        return { withdrawn: digests.length }
      },
      'POST /v1/automata/migrate': async ({ body, signal }) => {
        const { name, to, stopTimeoutMs } = parseBody(migrateSchema, body)
        const migration = this.migration
        if (migration === undefined) throw new EmergenceError('migration is not running', { code: 'NOT_READY' })
        return eventsOf(async emit => await migration.migrate(name, { to, signal, onPhase: emit, ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}) }))
      },
      ...this.nix.routes(),
      /** A pass of the automatic GC now: frees space only if a watermark or the size cap is passed. */
      'POST /v1/gc': async () => await this.autoGc?.runNow(),
      'GET /v1/sync': async () => this.requireSync().list(),
      'GET /v1/sync/status': async () => this.requireSync().status(),
      'POST /v1/sync/add': async ({ body, signal }) => await this.requireSync().add(parseBody(syncItemSchema, body).item, signal),
      'POST /v1/sync/rm': async ({ body }) => await this.requireSync().remove(parseBody(syncItemSchema, body).item),
      'POST /v1/stop': async () => {
        setImmediate(() => { void this.stop() })
        return { stopping: true }
      }
    }
  }

  private requireSync (): SyncService {
    if (this.sync === undefined) throw new EmergenceError('the node is still starting', { code: 'NODE_STARTING' })
    return this.sync
  }

  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('stopping')
      this.admin?.stopStarted()
      await this.autoGc?.stop()
      await this.sync?.stop()
      if (this.server !== undefined) await stopControlServer(this.server, socketPath(this.config.dataDir))
      await this.migration?.stop()
      await this.registry?.close()
      await this.nix.stop()
      await this.p2p.stop()
      await this.admin?.close()
      this.stopped.resolve()
    })()
    await this.stopping
  }
}
