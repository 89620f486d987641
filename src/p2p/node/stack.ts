/**
 * The libp2p stack itself (node.ts creates it through here, loaded on first use): TCP, Noise, Yamux with a
 * window for whole pieces, identify, ping, the private Kademlia DHT, bootstrap and optional mDNS.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey, StreamMuxerFactory } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { DHT_PROTOCOL, MAX_CONNECTIONS, MAX_PIECE_SIZE, PROVIDE_VALIDITY_SECONDS, WIDE_YAMUX_PROTOCOL } from '../constants.ts'
import type { EmergenceNode } from './node.ts'
import { MAX_DOCUMENT_BYTES, SYNC_TOPIC } from '../../sync/constants.ts'
import { noiseCrypto } from './noise-crypto.ts'

/** Yamux: a 16 MiB stream window, and a read buffer twice that so a paused reader is not reset ("Read buffer length ... exceeded limit"). */
const STREAM_WINDOW = 16 * 1024 * 1024
const READ_BUFFER = 2 * STREAM_WINDOW
/** The initial window of WIDE_YAMUX_PROTOCOL: a whole piece and its header go out without a window update. */
const PIECE_WINDOW = 2 * MAX_PIECE_SIZE

/**
 * Yamux starts every stream with a 256 KiB window and grows it only when a window's worth of data arrives
 * within four round trips, timed in whole milliseconds from a ping at connection start: on a LAN that ping
 * reads 0 ms and the window never grows, so a piece crawls through at 256 KiB per round trip, and a round trip
 * on a saturated link is the bottleneck's queue (100 ms behind a tbf shaper: 2.5 MB/s per stream). js-yamux
 * takes the peer's initial window to be its own configured one, so a wider start is safe only when both ends
 * chose it: it is offered under its own protocol id first, and plain /yamux/1.0.0 stays as the fallback.
 */
function wideYamux (): () => StreamMuxerFactory {
  const inner = yamux({ streamOptions: { initialStreamWindowSize: PIECE_WINDOW, maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: READ_BUFFER } })
  return () => {
    const factory = inner()
    return {
      protocol: WIDE_YAMUX_PROTOCOL,
      createStreamMuxer: maConn => factory.createStreamMuxer(maConn)
    }
  }
}

export interface StackInit {
  privateKey: PrivateKey
  listen: string[]
  announce?: string[]
  gater?: ConnectionGater
  /** Multiaddrs of the bootstrap peers. */
  bootstrap: string[]
  mdns: boolean
  /** libp2p's metrics (connections, streams, bytes per protocol, DHT queries) go into this registry. */
  metricsRegistry?: Registry
}

export async function createLibp2pNode (init: StackInit): Promise<EmergenceNode> {
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen, ...(init.announce !== undefined ? { announce: init.announce } : {}) },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [wideYamux(), yamux({ streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: READ_BUFFER } })],
    ...(init.gater !== undefined ? { connectionGater: init.gater } : {}),
    connectionMonitor: { abortConnectionOnPingFailure: false },
    // Our registry, not prom-client's global one (which the package clears), so that each node has its own; the
    // process metrics (CPU, memory, event loop) are src/metrics/'s.
    ...(init.metricsRegistry !== undefined ? { metrics: prometheusMetrics({ registry: init.metricsRegistry, collectDefaultMetrics: false }) } : {}),
    // Bounded resources (docs/protocol.md §6); libp2p's own per-host rate of inbound connections stays on.
    connectionManager: { maxConnections: MAX_CONNECTIONS },
    peerDiscovery: [
      ...(init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap, timeout: 100 })] : []),
      ...(init.mdns ? [mdns({ serviceTag: '_emergence._udp.local' })] : [])
    ],
    services: {
      identify: identify(),
      // Cluster sync's documents (docs/protocol.md §10): signed by their author (StrictSign), one topic only,
      // messages bounded by the largest document, published even while no peer listens (peers that missed one
      // ask for the documents when they connect).
      pubsub: gossipsub({ allowedTopics: [SYNC_TOPIC], maxInboundDataLength: MAX_DOCUMENT_BYTES * 2 + 1024, allowPublishToZeroTopicPeers: true, fallbackToFloodsub: false }),
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
}
