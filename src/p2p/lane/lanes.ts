/**
 * The data lanes of one node (docs/protocol.md §9): the listener that serves lanes to peers, the offer handler
 * on libp2p, and the lanes this node opened to peers, one per peer, reused by every request to that peer. A lane
 * that cannot be opened (the peer offers none, the port is blocked, the certificate is wrong) or that dies makes
 * requests to that peer take libp2p streams for `retryMs`; it never fails a request by itself.
 */
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { describeError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../constants.ts'
import type { ServerContext } from '../serving/server.ts'
import { makeLaneCredentials, type LaneCredentials } from './certificate.ts'
import { LaneConnection } from './connection.ts'
import { LANE_IDLE_MS, LANE_OFFER_PROTOCOL, LANE_RETRY_MS } from './constants.ts'
import { requestOffer, serveOffer } from './offer.ts'
import { LaneServer } from './server.ts'
import { TicketBook } from './tickets.ts'
import { settle } from './waits.ts'

export interface LaneInit {
  /** Serve and use lanes. @default true */
  enabled?: boolean
  /** Address and port the lane listens on. @default '0.0.0.0', 0 (any free port; the offer names it) */
  host?: string
  port?: number
  /** Peer ids allowed to open a lane; empty or absent: any peer with a libp2p connection. */
  allowList?: ReadonlySet<string>
  /** Time allowed to get an offer and open a lane. @default 10 s */
  openTimeoutMs?: number
  /** After a lane to a peer failed, streams are used for this long. @default 30 s */
  retryMs?: number
  /** A lane we opened closes after this long unused. @default 10 s */
  idleMs?: number
  /**
   * Offer and use plaintext lanes with peers that opt in too (trusted networks only; docs/protocol.md §9.5).
   * @default false
   */
  plaintext?: boolean
  /** The port named in offers when peers reach the lane through another one (a port forward). @default the port listened on */
  advertisePort?: number
  logger?: Logger
}

export interface LaneComponents {
  node: Pick<Libp2p, 'handle' | 'unhandle' | 'getConnections'>
  /** The node's libp2p key: it signs the lane certificate. */
  identity: PrivateKey
}

interface PeerLane {
  lane?: LaneConnection | undefined
  opening?: Promise<LaneConnection | undefined> | undefined
  retryAt?: number
  /** Bytes on a plaintext lane to this peer were changed on the way: from now on, TLS lanes only. */
  plaintextDistrusted?: boolean
}

export class Lanes {
  private readonly components: LaneComponents
  private readonly init: Required<Omit<LaneInit, 'allowList' | 'advertisePort'>> & { allowList: ReadonlySet<string> | undefined, advertisePort: number | undefined }
  private readonly peers = new Map<string, PeerLane>()
  private readonly tickets = new TicketBook()
  private credentials: LaneCredentials | undefined
  private server: LaneServer | undefined
  private listening: number | undefined
  private controller = new AbortController()
  /**
   * Lanes this node opened (`plaintext` of them without TLS), failed attempts (no offer, port unreachable, wrong
   * certificate), piece bytes received, and peers whose plaintext lanes were tampered with (§9.5).
   */
  readonly counts = { opened: 0, plaintext: 0, failed: 0, bytes: 0, tampered: 0 }

  constructor (components: LaneComponents, init: LaneInit = {}) {
    this.components = components
    this.init = {
      enabled: init.enabled ?? true,
      host: init.host ?? '0.0.0.0',
      port: init.port ?? 0,
      allowList: init.allowList !== undefined && init.allowList.size > 0 ? init.allowList : undefined,
      openTimeoutMs: init.openTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      retryMs: init.retryMs ?? LANE_RETRY_MS,
      idleMs: init.idleMs ?? LANE_IDLE_MS,
      plaintext: init.plaintext ?? false,
      advertisePort: init.advertisePort,
      logger: init.logger ?? silentLogger
    }
  }

  /** The port lanes are served on, while started. */
  get port (): number | undefined {
    return this.listening
  }

  async start (serve: ServerContext): Promise<void> {
    if (!this.init.enabled || this.server !== undefined) return
    this.controller = new AbortController()
    this.credentials = await makeLaneCredentials(this.components.identity)
    const server = new LaneServer({ credentials: this.credentials, tickets: this.tickets, allowed: peer => this.allowed(peer), serve, logger: this.init.logger, plaintext: this.init.plaintext })
    this.listening = await server.listen(this.init.host, this.init.port)
    this.server = server
    await this.components.node.handle(LANE_OFFER_PROTOCOL, async (stream, connection) => {
      await serveOffer(stream, connection, { tickets: this.tickets, port: () => this.init.advertisePort ?? this.listening, allowed: peer => this.allowed(peer), timeoutMs: this.init.openTimeoutMs, plaintext: this.init.plaintext })
    })
  }

  async stop (): Promise<void> {
    if (this.server === undefined) return
    this.controller.abort(new Error('lanes are stopping'))
    await this.components.node.unhandle(LANE_OFFER_PROTOCOL)
    for (const state of this.peers.values()) state.lane?.close()
    this.peers.clear()
    const server = this.server
    this.server = undefined
    this.listening = undefined
    await server.close()
  }

  /**
   * The open lane to `peer`, opening one if none is and none failed lately; undefined means "use a libp2p
   * stream". Only an abort of `signal` makes it throw.
   */
  async forPeer (peer: PeerId, signal?: AbortSignal): Promise<LaneConnection | undefined> {
    if (this.server === undefined) return undefined
    const key = peer.toString()
    const state = this.peers.get(key) ?? {}
    if (state.lane?.isOpen === true) return state.lane
    if (state.retryAt !== undefined && Date.now() < state.retryAt) return undefined
    state.opening ??= this.openShared(peer, state)
    this.peers.set(key, state)
    // The opening is shared by every request to the peer: one caller's abort must not cancel it for the others.
    return await settle(state.opening, this.init.openTimeoutMs * 2, signal, { onTimeout: () => new Error('lane opening hung'), onAbort: () => {} })
      .catch(err => {
        if (signal?.aborted === true) throw signal.reason
        this.init.logger.debug(`lane to ${key}: ${describeError(err)}`)
        return undefined
      })
  }

  /**
   * Bytes that came over the plaintext lane to `peer` were changed on the way (a bad piece that was good over an
   * authenticated path, or garbage): the lane is closed and only TLS lanes are used to that peer from now on.
   */
  distrust (peer: PeerId, why: string): void {
    const key = peer.toString()
    const state = this.peers.get(key) ?? {}
    this.peers.set(key, state)
    if (state.plaintextDistrusted !== true) {
      state.plaintextDistrusted = true
      this.counts.tampered++
      this.init.logger.warn(`bytes on the plaintext lane to ${key} were changed on the way (${why}); TLS lanes only from now on`)
    }
    if (state.lane?.plaintext === true) state.lane.close()
    state.lane = undefined
    // The next request opens a TLS lane, not streams for the retry period a failed lane would earn.
    delete state.retryAt
  }

  /** Asks `peer` for an offer and opens the lane; throws the lane's typed errors (tests call this directly). */
  async open (peer: PeerId, signal?: AbortSignal): Promise<LaneConnection> {
    const credentials = this.credentials
    if (credentials === undefined) throw new Error('lanes are not started')
    const both = signal !== undefined ? AbortSignal.any([signal, this.controller.signal]) : this.controller.signal
    const plaintext = this.init.plaintext && this.peers.get(peer.toString())?.plaintextDistrusted !== true
    const offer = await requestOffer(this.components.node.getConnections(peer), peer, this.init.openTimeoutMs, both, { plaintext })
    return await LaneConnection.open({ offer, peer: peer.toString(), credentials, timeoutMs: this.init.openTimeoutMs, idleMs: this.init.idleMs, counts: this.counts, signal: both })
  }

  /** Connections to the lane port refused at the door (every lane and pending-handshake slot taken). */
  get refused (): number {
    return this.server?.dropped ?? 0
  }

  /** Lanes this node serves to peers right now. */
  served (peer?: string): number {
    return this.server?.count(peer) ?? 0
  }

  private async openShared (peer: PeerId, state: PeerLane): Promise<LaneConnection | undefined> {
    const key = peer.toString()
    try {
      const lane = await this.open(peer)
      this.counts.opened++
      if (lane.plaintext) this.counts.plaintext++
      state.lane = lane
      lane.onClose = (err, idle) => {
        if (state.lane === lane) state.lane = undefined
        if (!idle) state.retryAt = Date.now() + this.init.retryMs
        this.init.logger.debug(`lane to ${key} closed: ${describeError(err)}`)
      }
      return lane
    } catch (err) {
      this.counts.failed++
      state.retryAt = Date.now() + this.init.retryMs
      this.init.logger.info(`no data lane to ${key}, using libp2p streams: ${describeError(err)}`)
      return undefined
    } finally {
      state.opening = undefined
    }
  }

  private allowed (peer: string): boolean {
    return this.init.allowList === undefined || this.init.allowList.has(peer)
  }
}
