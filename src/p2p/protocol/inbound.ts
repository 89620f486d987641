/**
 * Inbound blob-protocol streams, counted per peer and per node (docs/protocol.md §6): a stream past either
 * limit is reset at once, before it can buffer anything. Together with the per-stream read-ahead bound
 * (MAX_REQUEST_BUFFER) this bounds the request bytes peers can make the node hold, and `load()` reports them.
 */
import { MAX_INBOUND_STREAMS, MAX_INBOUND_STREAMS_PER_PEER } from '../constants.ts'
import { StreamLimitError } from '../errors.ts'
import type { FramedStream } from './wire.ts'

export interface InboundLoad {
  /** Inbound streams being served. */
  streams: number
  /** Bytes they hold received and not yet read. */
  bufferedBytes: number
}

export class InboundStreams {
  private readonly maxPerPeer: number
  private readonly maxTotal: number
  private readonly byPeer = new Map<string, Set<FramedStream>>()
  private total = 0

  constructor (maxPerPeer = MAX_INBOUND_STREAMS_PER_PEER, maxTotal = MAX_INBOUND_STREAMS) {
    this.maxPerPeer = maxPerPeer
    this.maxTotal = maxTotal
  }

  /** Counts the stream in, or resets it and returns false when its peer or the node is at the limit. */
  admit (framed: FramedStream): boolean {
    const streams = this.byPeer.get(framed.peer) ?? new Set<FramedStream>()
    const refusal = streams.size >= this.maxPerPeer
      ? `peer ${framed.peer} has ${streams.size} streams open`
      : this.total >= this.maxTotal ? `${this.total} inbound streams are open` : undefined
    if (refusal !== undefined) {
      framed.abort(new StreamLimitError(refusal))
      return false
    }
    streams.add(framed)
    this.byPeer.set(framed.peer, streams)
    this.total++
    return true
  }

  leave (framed: FramedStream): void {
    const streams = this.byPeer.get(framed.peer)
    if (streams?.delete(framed) !== true) return
    this.total--
    if (streams.size === 0) this.byPeer.delete(framed.peer)
  }

  load (): InboundLoad {
    let bufferedBytes = 0
    for (const streams of this.byPeer.values()) for (const framed of streams) bufferedBytes += framed.buffered
    return { streams: this.total, bufferedBytes }
  }
}
