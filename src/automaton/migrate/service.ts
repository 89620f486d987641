/**
 * The migration service of a node (docs/automata.md "Migration", docs/protocol.md §11): registers the
 * /emergence/migrate/1.1.0 handler on start (the target's side) and removes it on stop; `migrate` runs the
 * source's side for a local automaton. Migrations are accepted from the trusted peers, else from the
 * allow-listed peers, else from nobody: the same rule as tags (docs/security.md), since a migration asks the
 * node to run a workload with the state the peer sends.
 */
import type { Libp2p, PeerId, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { P2P } from '../../p2p/service.ts'
import { MAX_CONTROL_FRAME } from '../../p2p/constants.ts'
import { QueueFullError } from '../../p2p/errors.ts'
import { FramedStream } from '../../p2p/protocol/wire.ts'
import type { Store } from '../../store/store.ts'
import { describeError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import type { ArtefactHost } from './artefacts.ts'
import { MAX_INCOMING, MIGRATE_PROTOCOL } from './constants.ts'
import { InvalidMigrationTargetError, MigrationInProgressError } from './errors.ts'
import { MigrateSession } from './session.ts'
import { migrateOut, type MigrationResult } from './source.ts'
import type { PhaseEvent } from './phases.ts'
import { migrateIn } from './target.ts'

/** Room for two control frames read ahead: a peer has no reason to send more before it is answered. */
const MAX_BUFFERED = 2 * MAX_CONTROL_FRAME + 64

export interface MigrationComponents {
  node: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'peerStore' | 'peerRouting'>
  p2p: Pick<P2P, 'dial' | 'pullBlob'>
  store: Store
  artefacts: ArtefactHost
}

export interface MigrationInit {
  dataDir: string
  /** Peer ids trusted for tags: migrations are accepted from them. */
  trustedPeers?: string[]
  /** Without trusted peers, migrations are accepted from the allow-list; with neither, from nobody. */
  allowList?: string[]
  logger?: Logger
}

export interface MigrateOptions {
  /** A peer id, or a TCP multiaddr (`/ip4/<ip>/tcp/<port>/p2p/<id>`) dialled first. */
  to: string
  stopTimeoutMs?: number
  signal?: AbortSignal
  onPhase?: (event: PhaseEvent) => void
}

export class MigrationService implements Startable {
  private readonly components: MigrationComponents
  private readonly init: MigrationInit
  private readonly logger: Logger
  private readonly accepted: Set<string>
  private readonly incoming = new Set<string>()
  private readonly outgoing = new Set<string>()
  private controller = new AbortController()
  private running = 0

  constructor (components: MigrationComponents, init: MigrationInit) {
    this.components = components
    this.init = init
    this.logger = init.logger ?? silentLogger
    const trusted = init.trustedPeers ?? []
    this.accepted = new Set((trusted.length > 0 ? trusted : init.allowList ?? []).map(id => peerIdFromString(id).toString()))
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
    await this.components.node.handle(MIGRATE_PROTOCOL, async (stream, connection) => { await this.serve(stream, connection.remotePeer) }, {
      maxInboundStreams: MAX_INCOMING,
      maxOutboundStreams: MAX_INCOMING
    })
  }

  async stop (): Promise<void> {
    this.controller.abort(new Error('the node is stopping'))
    await this.components.node.unhandle(MIGRATE_PROTOCOL)
  }

  /** Migrates the local running automaton `name` to `options.to`. */
  async migrate (name: string, options: MigrateOptions): Promise<MigrationResult> {
    if (this.outgoing.has(name)) throw new MigrationInProgressError(name)
    this.outgoing.add(name)
    try {
      return await this.migrateTo(name, options)
    } finally {
      this.outgoing.delete(name)
    }
  }

  private async migrateTo (name: string, options: MigrateOptions): Promise<MigrationResult> {
    const peer = await this.target(options.to, options.signal)
    return await migrateOut({ ...this.components, dataDir: this.init.dataDir, logger: this.logger }, name, {
      peer: peer.toString(),
      open: async signal => await this.open(peer, signal),
      ...(options.stopTimeoutMs !== undefined ? { stopTimeoutMs: options.stopTimeoutMs } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.onPhase !== undefined ? { onPhase: options.onPhase } : {})
    })
  }

  private async target (to: string, signal: AbortSignal | undefined): Promise<PeerId> {
    if (to.startsWith('/')) return await this.components.p2p.dial(to, signal !== undefined ? { signal } : {})
    try {
      return peerIdFromString(to)
    } catch (err) {
      throw new InvalidMigrationTargetError(to, `neither a peer id nor a multiaddr (${describeError(err)})`)
    }
  }

  /** A peer known by id only is looked up in the DHT first (as the exchange dials, p2p/exchange.ts). */
  private async open (peer: PeerId, signal: AbortSignal): Promise<MigrateSession> {
    const { node } = this.components
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(30_000)])
    if (node.getConnections(peer).length === 0) {
      const known = await node.peerStore.get(peer).then(p => p.addresses.length, () => 0)
      if (known === 0) await node.peerRouting.findPeer(peer, { signal: bounded })
    }
    const stream = await node.dialProtocol(peer, MIGRATE_PROTOCOL, { signal: bounded })
    return new MigrateSession(new FramedStream(stream, peer.toString(), { maxBuffered: MAX_BUFFERED }), signal)
  }

  private async serve (stream: Stream, from: PeerId): Promise<void> {
    const session = new MigrateSession(new FramedStream(stream, from.toString(), { maxBuffered: MAX_BUFFERED }), this.controller.signal)
    if (this.running >= MAX_INCOMING) {
      session.abort(new QueueFullError(MAX_INCOMING))
      return
    }
    this.running++
    try {
      await migrateIn({
        dataDir: this.init.dataDir,
        store: this.components.store,
        artefacts: this.components.artefacts,
        logger: this.logger,
        accepts: peer => this.accepted.has(peer),
        incoming: this.incoming,
        pullSnapshot: async (snapshot, source, options) => (await this.components.p2p.pullBlob(snapshot, {
          providers: [source],
          lease: options.lease,
          signal: options.signal,
          onPiece: (_peer, bytes) => { options.onBytes(bytes) }
        })).fetchedBytes
      }, session, from)
    } catch (err) {
      this.logger.warn(`migration from ${from.toString()} failed: ${describeError(err)}`)
      session.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.running--
    }
  }
}
