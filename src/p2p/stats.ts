/** Byte counters per peer: served (uploaded) and received (downloaded), for tests, benchmarks and metrics. */

export interface TransferCounters {
  /** Bytes of piece data this node sent, by remote peer id. */
  served: Record<string, number>
  /** Bytes of piece data this node received, by remote peer id (verified or not). */
  received: Record<string, number>
  servedTotal: number
  receivedTotal: number
}

export class TransferStats {
  private readonly served = new Map<string, number>()
  private readonly received = new Map<string, number>()

  addServed (peer: string, bytes: number): void {
    this.served.set(peer, (this.served.get(peer) ?? 0) + bytes)
  }

  addReceived (peer: string, bytes: number): void {
    this.received.set(peer, (this.received.get(peer) ?? 0) + bytes)
  }

  snapshot (): TransferCounters {
    const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)
    return {
      served: Object.fromEntries(this.served),
      received: Object.fromEntries(this.received),
      servedTotal: sum(this.served),
      receivedTotal: sum(this.received)
    }
  }
}
