/**
 * The libp2p 3 node every Emergence daemon runs: TCP, Noise, Yamux (tuned for bulk transfers), identify, ping,
 * a private LAN-style Kademlia DHT, bootstrap peers, optional mDNS (stack.ts), a persistent Ed25519 identity,
 * and a connection gater: the allow-list, enforced on inbound and outbound connections alike, and a cap on the
 * connections one peer may hold to us (docs/protocol.md §6). A node without an allow-list says so at start.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import { KEEP_ALIVE, type ConnectionGater, type Libp2p, type PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Ping } from '@libp2p/ping'
import { ipPortToMultiaddr } from '@libp2p/utils'
import type { Registry } from 'prom-client'
import { describeError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import { MAX_CONNECTIONS_PER_PEER } from '../constants.ts'
import { InvalidP2PConfigError, ListenAddressInUseError } from '../errors.ts'
import { loadOrCreateIdentity } from './identity.ts'

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4150']
export type EmergenceServices = { identify: Identify, ping: Ping, dht: KadDHT, pubsub: GossipSub }
export type EmergenceNode = Libp2p<EmergenceServices>

export interface NodeInit {
  /** Directory of the identity key file (`peer.key`, created on first start). */
  identityDir: string
  /** Multiaddrs to listen on. @default DEFAULT_LISTEN */
  listen?: string[]
  /** Multiaddrs to announce instead of the listen addresses (e.g. behind NAT). */
  announce?: string[]
  /** `/ip4/.../tcp/.../p2p/<id>` of peers to connect to at start and keep connected. */
  bootstrap?: string[]
  /** Peer ids allowed to connect either way; empty or absent means any peer. */
  allowList?: string[]
  /** Discover peers on the LAN with mDNS and dial them. @default false */
  mdns?: boolean
  /** Connections one peer may hold to this node at once. @default MAX_CONNECTIONS_PER_PEER */
  maxConnectionsPerPeer?: number
  /** A prom-client registry that libp2p's own metrics join (src/metrics/); absent: libp2p collects none. */
  metricsRegistry?: Registry
  logger?: Logger
}

/**
 * Refuses every peer not on the allow-list (when there is one), at dial time and after the Noise handshake proves
 * the peer's id, and an inbound connection from a peer that already holds `maxPerPeer`.
 */
export function allowListGater (allowed: ReadonlySet<string> | undefined, connectionsOf: (peer: PeerId) => number = () => 0, maxPerPeer = MAX_CONNECTIONS_PER_PEER): ConnectionGater {
  const deny = (peer: PeerId): boolean => allowed !== undefined && !allowed.has(peer.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: peer => deny(peer) || connectionsOf(peer) >= maxPerPeer,
    denyOutboundUpgradedConnection: deny
  }
}

function parseAllowList (ids: string[]): Set<string> {
  const set = new Set<string>()
  for (const id of ids) {
    try {
      set.add(peerIdFromString(id).toString())
    } catch {
      throw new InvalidP2PConfigError(`allow-list entry ${JSON.stringify(id)} is not a peer id`)
    }
  }
  return set
}

/** How long start-up waits for each bootstrap peer to answer before going on without it. */
const BOOTSTRAP_DIAL_MS = 5_000

/** Peer ids of bootstrap multiaddrs, which must end in `/p2p/<peer id>`. */
function bootstrapPeers (addrs: string[]): Array<{ id: PeerId, addr: string }> {
  return addrs.map(addr => {
    const id = /\/p2p\/([^/]+)$/.exec(addr)?.[1]
    try {
      if (id === undefined) throw new Error('it does not end in /p2p/<peer id>')
      return { id: peerIdFromString(id), addr }
    } catch (err) {
      throw new InvalidP2PConfigError(`bootstrap address ${JSON.stringify(addr)}: ${describeError(err)}`)
    }
  })
}

export type TcpAddress = ReturnType<typeof ipPortToMultiaddr>

const TCP_ADDRESS = /^\/ip[46]\/([^/]+)\/tcp\/(\d{1,5})(?:\/p2p\/([1-9A-HJ-NP-Za-km-z]+))?$/

/** True for the addresses `parseTcpAddress` takes (the only ones peer exchange passes on). */
export function isTcpAddress (text: string): boolean {
  return TCP_ADDRESS.test(text)
}

/** Parses `/ip4/<ip>/tcp/<port>[/p2p/<id>]` or `/ip6/...` (as `getMultiaddrs()` prints them) for dialing. */
export function parseTcpAddress (text: string): TcpAddress {
  const match = TCP_ADDRESS.exec(text)
  if (match === null) throw new InvalidP2PConfigError(`address ${JSON.stringify(text)} is not /ip4|ip6/<ip>/tcp/<port>[/p2p/<id>]`)
  const [, ip, port, id] = match
  try {
    const addr = ipPortToMultiaddr(ip as string, Number(port))
    return id !== undefined ? addr.encapsulate(`/p2p/${peerIdFromString(id).toString()}`) : addr
  } catch (err) {
    throw new InvalidP2PConfigError(`address ${JSON.stringify(text)}: ${describeError(err)}`)
  }
}

/**
 * libp2p reports a listen address in use with its own advice and a stack in the message; say it in one line,
 * naming the address and what to change.
 */
function listenError (err: unknown): ListenAddressInUseError | undefined {
  const text = describeError(err)
  if (!text.includes('EADDRINUSE')) return undefined
  const address = /(\/ip[46]\/[^\s:]+\/tcp\/\d+)/.exec(text)?.[1] ?? 'a listen address'
  return new ListenAddressInUseError(address)
}

/** Creates and starts the node. Stop it with `node.stop()`. */
export async function createNode (init: NodeInit): Promise<EmergenceNode> {
  const logger = init.logger ?? silentLogger
  const allowed = init.allowList !== undefined && init.allowList.length > 0 ? parseAllowList(init.allowList) : undefined
  const peers = bootstrapPeers(init.bootstrap ?? [])
  for (const peer of peers) {
    if (allowed !== undefined && !allowed.has(peer.id.toString())) logger.warn(`bootstrap peer ${peer.id.toString()} is not on the allow-list`)
  }
  if (allowed === undefined) {
    logger.warn('no allow-list: any peer that reaches this node may connect and fetch what it holds; set one with --allow or allowList: in config.yaml')
  }
  // The libp2p stack is loaded here, not at import: the CLI imports this module (through the daemon) for every
  // command, and loading libp2p, Noise, Yamux and the DHT costs most of a second.
  const { createLibp2pNode } = await import('./stack.ts')
  // The gater exists before the node it asks about; until the node does, nobody is connected.
  const built: { node?: EmergenceNode } = {}
  const connectionsOf = (peer: PeerId): number => built.node?.getConnections(peer).length ?? 0
  const node = await createLibp2pNode({
    privateKey: await loadOrCreateIdentity(init.identityDir, logger),
    listen: init.listen ?? DEFAULT_LISTEN,
    ...(init.announce !== undefined ? { announce: init.announce } : {}),
    gater: allowListGater(allowed, connectionsOf, init.maxConnectionsPerPeer),
    bootstrap: peers.map(p => p.addr),
    mdns: init.mdns === true,
    ...(init.metricsRegistry !== undefined ? { metricsRegistry: init.metricsRegistry } : {})
  }).catch((err: unknown) => { throw listenError(err) ?? err })
  built.node = node
  // Keep bootstrap peers connected: libp2p re-dials KEEP_ALIVE-tagged peers when their connection drops.
  for (const peer of peers) {
    await node.peerStore.merge(peer.id, { tags: { [KEEP_ALIVE]: { value: 1 } } })
  }
  // Dial the bootstrap peers before the node counts as started, so that a command run right after
  // `node start --detach` finds them connected; one that does not answer in time is left to the re-dials above.
  await Promise.all(peers.filter(peer => isTcpAddress(peer.addr)).map(async peer => {
    await node.dial(parseTcpAddress(peer.addr), { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_MS) })
      .catch(err => { logger.warn(`bootstrap peer ${peer.addr} did not answer: ${describeError(err)}`) })
  }))
  node.addEventListener('peer:discovery', event => {
    const id = event.detail.id
    if (id.equals(node.peerId) || (allowed !== undefined && !allowed.has(id.toString()))) return
    if (node.getConnections(id).length > 0) return
    node.dial(id, { signal: AbortSignal.timeout(10_000) }).catch(err => { logger.debug(`dial of discovered ${id.toString()} failed: ${describeError(err)}`) })
  })
  return node
}
