/**
 * Metrics and health (docs/operations.md "Monitoring").
 *
 * The contract:
 * - **One registry per node** (`NodeMetrics`): process metrics, libp2p's own (added by the stack when given the
 *   registry: `P2P.create({ metricsRegistry })`) and Emergence's, every name prefixed `emergence_`.
 * - **Read, not hooked**: byte, piece and ban counts come from what the exchange and the puller already keep
 *   (p2p/stats.ts), store and container gauges from disk at scrape time; only events that leave no count behind
 *   (provider lookups, HTTP requests of the binary cache and the mirror, GC passes) are counted as they happen.
 * - **The admin endpoint** (`startAdminServer`) listens on loopback unless told otherwise and serves `/metrics`,
 *   `/healthz` (alive) and `/readyz` (every readiness check passes: 200; else 503).
 *
 * @example
 * ```ts
 * const metrics = new NodeMetrics()
 * const p2p = await P2P.create({ ...init, metricsRegistry: metrics.registry })
 * metrics.watch({ stats: p2p.exchange.stats, puller: p2p.puller, exchange: p2p.exchange, ... })
 * const admin = await startAdminServer({ host: '127.0.0.1', port: 7704, metrics, readiness: () => ({ store: true, p2p: true }) })
 * ```
 */
export { NodeMetrics } from './node-metrics.ts'
export { startAdminServer, type AdminServerInit } from './admin-server.ts'
export { peerClassifier, type MetricSources, type PeerClass } from './sources.ts'
export { observeRequests } from './http-requests.ts'
export * from './errors.ts'
