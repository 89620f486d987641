/**
 * The libp2p 3 node every Emergence daemon runs: TCP, Noise, Yamux (tuned for bulk transfers), identify, ping,
 * a private LAN-style Kademlia DHT, bootstrap peers, optional mDNS, a persistent Ed25519 identity, and an
 * allow-list enforced by the connection gater on inbound and outbound connections alike.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify, type Identify } from '@libp2p/identify'
import { KEEP_ALIVE, type ConnectionGater, type Libp2p, type PeerId } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { ipPortToMultiaddr } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { DHT_PROTOCOL } from './constants.ts'
import { noiseCrypto } from './noise-crypto.ts'
import { InvalidP2PConfigError } from './errors.ts'
import { loadOrCreateIdentity } from './identity.ts'

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4150']
/** How long a DHT peer keeps our provider record; dht-routing.ts re-announces well within it. */
export const PROVIDE_VALIDITY_SECONDS = 3600
/** Yamux: a 16 MiB stream window, and a read buffer twice that so a paused reader is not reset (libp2p-v3.md). */
const STREAM_WINDOW = 16 * 1024 * 1024
const READ_BUFFER = 2 * STREAM_WINDOW

export type EmergenceServices = { identify: Identify, ping: Ping, dht: KadDHT }
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
  logger?: Logger
}

/** Refuses every peer not on the list, at dial time and after the Noise handshake proves the peer's id. */
export function allowListGater (allowed: ReadonlySet<string>): ConnectionGater {
  const deny = (peer: PeerId): boolean => !allowed.has(peer.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: deny,
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

/** Creates and starts the node. Stop it with `node.stop()`. */
export async function createNode (init: NodeInit): Promise<EmergenceNode> {
  const logger = init.logger ?? silentLogger
  const allowed = init.allowList !== undefined && init.allowList.length > 0 ? parseAllowList(init.allowList) : undefined
  const peers = bootstrapPeers(init.bootstrap ?? [])
  for (const peer of peers) {
    if (allowed !== undefined && !allowed.has(peer.id.toString())) logger.warn(`bootstrap peer ${peer.id.toString()} is not on the allow-list`)
  }
  const node = await createLibp2p({
    privateKey: await loadOrCreateIdentity(init.identityDir, logger),
    addresses: { listen: init.listen ?? DEFAULT_LISTEN, ...(init.announce !== undefined ? { announce: init.announce } : {}) },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: READ_BUFFER } })],
    ...(allowed !== undefined ? { connectionGater: allowListGater(allowed) } : {}),
    connectionMonitor: { abortConnectionOnPingFailure: false },
    peerDiscovery: [
      ...(peers.length > 0 ? [bootstrap({ list: peers.map(p => p.addr), timeout: 100 })] : []),
      ...(init.mdns === true ? [mdns({ serviceTag: '_emergence._udp.local' })] : [])
    ],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // A private cluster: we are a server from the start, and loopback/LAN addresses are kept, not filtered.
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        providers: { provideValidity: PROVIDE_VALIDITY_SECONDS },
        // dht-routing.ts re-announces before expiry; the DHT's own reprovider only revives expired records.
        reprovide: { validity: PROVIDE_VALIDITY_SECONDS * 1000, threshold: 0 }
      })
    }
  })
  // Keep bootstrap peers connected: libp2p re-dials KEEP_ALIVE-tagged peers when their connection drops.
  for (const peer of peers) {
    await node.peerStore.merge(peer.id, { tags: { [KEEP_ALIVE]: { value: 1 } } })
  }
  node.addEventListener('peer:discovery', event => {
    const id = event.detail.id
    if (id.equals(node.peerId) || (allowed !== undefined && !allowed.has(id.toString()))) return
    if (node.getConnections(id).length > 0) return
    node.dial(id, { signal: AbortSignal.timeout(10_000) }).catch(err => { logger.debug(`dial of discovered ${id.toString()} failed: ${describeError(err)}`) })
  })
  return node
}
