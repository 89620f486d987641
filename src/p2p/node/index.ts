/**
 * The libp2p host: identity, transports and the services every peer runs.
 *
 * The contract:
 * - **One identity per data dir.** `loadOrCreateIdentity` reads `peer.key` (Ed25519, mode 0600) or creates it; the
 *   peer id is stable across restarts, and the data lane's certificates are made from the same key.
 * - **TCP, Noise, Yamux, identify, ping, Kademlia** (`createNode`): the control plane. Bulk piece bytes move on the
 *   data lane (`../lane/`), so the stack is tuned for many small messages, not throughput.
 * - **The allow-list is enforced at the connection gater** (`allowListGater`): a stranger's connection is refused
 *   before any protocol runs, and a peer holds at most a few connections.
 * - Listen addresses are multiaddrs; `parseTcpAddress` accepts `host:port` for the CLI and config.
 */
export { loadOrCreateIdentity } from './identity.ts'
export { createNode, allowListGater, parseTcpAddress, isTcpAddress, DEFAULT_LISTEN, type NodeInit, type EmergenceNode, type EmergenceServices, type TcpAddress } from './node.ts'
export { createLibp2pNode, type StackInit } from './stack.ts'
