/**
 * The node's metrics (docs/operations.md "Monitoring"): one prom-client registry per node, holding the process
 * metrics, libp2p's own (the stack adds them: p2p/node/stack.ts) and ours, prefixed `emergence_`. Ours are read
 * from what the subsystems already count (the exchange's TransferStats, the puller's ban list, the store on disk,
 * the container records) when Prometheus scrapes, so nothing on a transfer's path does more work than before.
 * Only events with no lasting count (provider lookups, HTTP requests, GC passes) are counted as they happen.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { PeerClass, MetricSources } from './sources.ts'
import { observeRequests, type RequestKind } from './http-requests.ts'
import type { Server } from 'node:http'

/** Provider lookup latency buckets, in seconds: a connected peer answers in milliseconds, the DHT in seconds. */
const LOOKUP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Sets a counter to totals kept elsewhere (prom-client counters only go up by `inc`). */
function setTotals<L extends string> (counter: Counter<L>, rows: Array<[Partial<Record<L, string>>, number]>): void {
  counter.reset()
  for (const [labels, value] of rows) counter.inc(labels, value)
}

export class NodeMetrics {
  readonly registry = new Registry()
  private sources: MetricSources | undefined
  private stopLookups: (() => void) | undefined
  private readonly gcRuns: Counter
  private readonly gcFreed: Counter
  private readonly lookups: Counter<'result'>
  private readonly lookupSeconds: Histogram
  private readonly nixRequests: Counter<'kind' | 'result'>
  private readonly registryRequests: Counter<'kind' | 'code'>

  constructor () {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    const sources = (): MetricSources | undefined => this.sources

    const bytes = new Counter({
      name: 'emergence_transfer_bytes_total',
      help: 'Piece bytes sent (out) and received (in), by path (data lane or libp2p stream) and peer class (trusted, allowed, other)',
      labelNames: ['direction', 'path', 'peer_class'] as const,
      registers,
      collect: () => {
        const s = sources()
        if (s === undefined) return
        const sums = new Map<string, [Record<'direction' | 'path' | 'peer_class', string>, number]>()
        const add = (direction: string, path: string, peerClass: PeerClass, value: number): void => {
          const key = `${direction} ${path} ${peerClass}`
          const row = sums.get(key) ?? [{ direction, path, peer_class: peerClass }, 0]
          row[1] += value
          sums.set(key, row)
        }
        for (const entry of s.stats.byPath()) {
          const peerClass = s.peerClass(entry.peer)
          add('out', entry.path, peerClass, entry.served)
          add('in', entry.path, peerClass, entry.received)
        }
        setTotals(bytes, [...sums.values()])
      }
    })
    const verified = new Counter({
      name: 'emergence_pieces_verified_total',
      help: 'Pieces (and blobs fetched whole) that matched their hash and were written',
      registers,
      collect: () => { const s = sources(); if (s !== undefined) setTotals(verified, [[{}, s.stats.pieces.verified]]) }
    })
    const rejected = new Counter({
      name: 'emergence_pieces_rejected_total',
      help: 'Pieces (and blobs fetched whole) that failed their hash and were dropped',
      registers,
      collect: () => { const s = sources(); if (s !== undefined) setTotals(rejected, [[{}, s.stats.pieces.rejected]]) }
    })
    const bans = new Counter({
      name: 'emergence_peer_bans_total',
      help: 'Peers banned since the node started (bad pieces, lying piece lists, protocol violations)',
      registers,
      collect: () => { const s = sources(); if (s !== undefined) setTotals(bans, [[{}, Object.keys(s.puller.bans.entries()).length]]) }
    })
    const pulls = new Gauge({
      name: 'emergence_blob_pulls_in_flight',
      help: 'Blob transfers running now',
      registers,
      collect: () => { const s = sources(); if (s !== undefined) pulls.set(s.puller.inFlight) }
    })
    const pieces = new Gauge({
      name: 'emergence_piece_requests_in_flight',
      help: 'Piece requests in flight: uploads being sent and downloads awaiting their answer',
      labelNames: ['direction'] as const,
      registers,
      collect: () => {
        const s = sources()
        if (s === undefined) return
        const now = s.exchange.piecesInFlight()
        pieces.set({ direction: 'upload' }, now.uploads)
        pieces.set({ direction: 'download' }, now.downloads)
      }
    })
    const peers = new Gauge({
      name: 'emergence_peers_connected',
      help: 'Peers with an open libp2p connection',
      registers,
      collect: () => { const s = sources(); if (s !== undefined) peers.set(s.connectedPeers()) }
    })
    this.lookups = new Counter({ name: 'emergence_provider_lookups_total', help: 'Provider lookups, by whether any provider was found', labelNames: ['result'] as const, registers })
    this.lookupSeconds = new Histogram({ name: 'emergence_provider_lookup_seconds', help: 'Time until a provider lookup found its first provider, or ended with none', buckets: LOOKUP_BUCKETS, registers })
    this.gcRuns = new Counter({ name: 'emergence_gc_runs_total', help: 'Passes of the automatic GC', registers })
    this.gcFreed = new Counter({ name: 'emergence_gc_freed_bytes_total', help: 'Bytes of blobs and unpacked layers the automatic GC removed', registers })
    this.nixRequests = new Counter({ name: 'emergence_nix_cache_requests_total', help: 'Requests to the Nix binary cache, by kind (narinfo, nar, info, other) and result (hit, miss, error)', labelNames: ['kind', 'result'] as const, registers })
    this.registryRequests = new Counter({ name: 'emergence_registry_requests_total', help: 'Requests to the OCI registry mirror, by kind (manifest, blob, other) and HTTP status code', labelNames: ['kind', 'code'] as const, registers })
    this.storeGauges(registers, sources)
  }

  /** Gauges read from disk on scrape; one reading at a time, shared by concurrent scrapes. */
  private storeGauges (registers: Registry[], sources: () => MetricSources | undefined): void {
    let reading: Promise<{ bytes: number, blobs: number, images: number, containers: Map<string, number> }> | undefined
    const read = async (): Promise<{ bytes: number, blobs: number, images: number, containers: Map<string, number> }> => {
      const s = sources()
      if (s === undefined) return { bytes: 0, blobs: 0, images: 0, containers: new Map() }
      reading ??= (async () => {
        const [store, images, containers] = await Promise.all([s.storeUsage(), s.images(), s.containerStates()])
        return { ...store, images, containers }
      })().finally(() => { reading = undefined })
      return await reading
    }
    const storeBytes = new Gauge({ name: 'emergence_store_bytes', help: 'Bytes of the blobs in the store', registers, collect: async () => { storeBytes.set((await read()).bytes) } })
    const blobs = new Gauge({ name: 'emergence_store_blobs', help: 'Blobs in the store', registers, collect: async () => { blobs.set((await read()).blobs) } })
    const images = new Gauge({ name: 'emergence_store_images', help: 'Image refs in the store (Nix records apart)', registers, collect: async () => { images.set((await read()).images) } })
    const containers = new Gauge({
      name: 'emergence_containers',
      help: 'Containers of this data dir by state (created, running, paused, stopped)',
      labelNames: ['state'] as const,
      registers,
      collect: async () => {
        containers.reset()
        for (const [state, count] of (await read()).containers) containers.set({ state }, count)
      }
    })
  }

  /** Starts reading from the node's subsystems; until then only the process metrics have values. */
  watch (sources: MetricSources): void {
    this.stopLookups?.()
    this.sources = sources
    this.stopLookups = sources.stats.onLookup((seconds, found) => {
      this.lookups.inc({ result: found ? 'found' : 'none' })
      this.lookupSeconds.observe(seconds)
    })
  }

  /** Counts the requests an HTTP endpoint of the node answers (the Nix binary cache, the registry mirror). */
  observe (server: Server, endpoint: 'nix-cache' | 'registry'): void {
    if (endpoint === 'nix-cache') {
      observeRequests(server, nixKind, (kind, status) => { this.nixRequests.inc({ kind, result: status >= 200 && status < 300 ? 'hit' : status === 404 ? 'miss' : 'error' }) })
    } else {
      observeRequests(server, registryKind, (kind, status) => { this.registryRequests.inc({ kind, code: String(status) }) })
    }
  }

  /** One pass of the automatic GC ended, having freed `freedBytes`. */
  gcPass (freedBytes: number): void {
    this.gcRuns.inc()
    this.gcFreed.inc(freedBytes)
  }

  /** The text Prometheus scrapes, and its content type. */
  async scrape (): Promise<{ body: string, contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }

  stop (): void {
    this.stopLookups?.()
    this.stopLookups = undefined
    this.sources = undefined
  }
}

/** docs/formats.md's binary cache paths: `/<hash>.narinfo`, `/nar/...`, `/nix-cache-info`. */
function nixKind (path: string): RequestKind {
  if (path.endsWith('.narinfo')) return 'narinfo'
  if (path.startsWith('/nar/')) return 'nar'
  if (path === '/nix-cache-info') return 'info'
  return 'other'
}

/** The distribution spec's pull paths: `/v2/<name>/manifests/<ref>`, `/v2/<name>/blobs/<digest>`. */
function registryKind (path: string): RequestKind {
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(path)) return 'manifest'
  if (/^\/v2\/.+\/blobs\/[^/]+$/.test(path)) return 'blob'
  return 'other'
}
