/**
 * What the exchange counts as it works, for `node status`, tests, benchmarks and the metrics endpoint
 * (src/metrics/, docs/operations.md "Monitoring"): piece bytes served and received per peer and per path (a data
 * lane or a libp2p stream), pieces verified and rejected, and provider lookups. Plain numbers, read on demand.
 */

/** How piece bytes moved: on a data lane (docs/protocol.md §9) or on a libp2p stream. */
export type TransferPath = 'lane' | 'stream'

export interface TransferCounters {
  /** Bytes of piece data this node sent, by remote peer id. */
  served: Record<string, number>
  /** Bytes of piece data this node received, by remote peer id (verified or not). */
  received: Record<string, number>
  servedTotal: number
  receivedTotal: number
}

/** Bytes with one peer on one path. */
export interface PathBytes {
  peer: string
  path: TransferPath
  served: number
  received: number
}

/** Called once per provider lookup: how long until its first provider (or its end, when none), and whether any came. */
export type LookupObserver = (seconds: number, found: boolean) => void

export class TransferStats {
  private readonly bytes = new Map<string, PathBytes>()
  /** Pieces that matched their hash and were written; pieces (or blobs fetched whole) that did not. */
  readonly pieces = { verified: 0, rejected: 0 }
  private readonly lookupObservers = new Set<LookupObserver>()

  addServed (peer: string, bytes: number, path: TransferPath = 'stream'): void {
    this.entry(peer, path).served += bytes
  }

  addReceived (peer: string, bytes: number, path: TransferPath = 'stream'): void {
    this.entry(peer, path).received += bytes
  }

  pieceVerified (): void {
    this.pieces.verified++
  }

  pieceRejected (): void {
    this.pieces.rejected++
  }

  /** Reports one provider lookup to the observers (routing/counted-routing.ts times them). */
  lookupDone (seconds: number, found: boolean): void {
    for (const observe of this.lookupObservers) observe(seconds, found)
  }

  /** Observes every provider lookup from now on; returns the function that stops it. */
  onLookup (observe: LookupObserver): () => void {
    this.lookupObservers.add(observe)
    return () => { this.lookupObservers.delete(observe) }
  }

  /** Bytes per peer and path, one entry for each pair that moved any. */
  byPath (): PathBytes[] {
    return [...this.bytes.values()].map(entry => ({ ...entry }))
  }

  snapshot (): TransferCounters {
    const served: Record<string, number> = {}
    const received: Record<string, number> = {}
    let servedTotal = 0
    let receivedTotal = 0
    for (const entry of this.bytes.values()) {
      if (entry.served > 0) served[entry.peer] = (served[entry.peer] ?? 0) + entry.served
      if (entry.received > 0) received[entry.peer] = (received[entry.peer] ?? 0) + entry.received
      servedTotal += entry.served
      receivedTotal += entry.received
    }
    return { served, received, servedTotal, receivedTotal }
  }

  private entry (peer: string, path: TransferPath): PathBytes {
    const key = `${path} ${peer}`
    let entry = this.bytes.get(key)
    if (entry === undefined) {
      entry = { peer, path, served: 0, received: 0 }
      this.bytes.set(key, entry)
    }
    return entry
  }
}
