/**
 * Progress of an image pull for the CLI's progress line: verified bytes against the total, the rate over the
 * last two seconds, and bytes by peer. Events are throttled; the last one (`phase: 'done'`) always comes.
 */

export interface PullProgress {
  ref: string
  phase: 'resolving' | 'fetching' | 'done'
  /** Verified bytes of the image's blobs, counting blobs the store already had and resumed pieces. */
  bytesDone: number
  bytesTotal: number
  /** Bytes per second over the last two seconds. */
  rate: number
  /** Peers that sent verified pieces so far. */
  peers: number
  perPeer: Record<string, number>
  blobsDone: number
  blobsTotal: number
}

const WINDOW_MS = 2_000

export class ProgressTracker {
  private readonly state: PullProgress
  private readonly onProgress: ((progress: PullProgress) => void) | undefined
  private readonly intervalMs: number
  private readonly samples: Array<{ at: number, bytes: number }> = []
  private lastEmit = 0

  constructor (ref: string, onProgress: ((progress: PullProgress) => void) | undefined, intervalMs = 200) {
    this.state = { ref, phase: 'resolving', bytesDone: 0, bytesTotal: 0, rate: 0, peers: 0, perPeer: {}, blobsDone: 0, blobsTotal: 0 }
    this.onProgress = onProgress
    this.intervalMs = intervalMs
  }

  phase (phase: PullProgress['phase']): void {
    this.state.phase = phase
    this.emit(true)
  }

  addBlobs (count: number, bytes: number): void {
    this.state.blobsTotal += count
    this.state.bytesTotal += bytes
    this.emit(false)
  }

  /** Verified bytes; `peer` is undefined for bytes that were already on disk. */
  addBytes (bytes: number, peer?: string): void {
    this.state.bytesDone += bytes
    if (peer !== undefined) {
      if (this.state.perPeer[peer] === undefined) this.state.peers++
      this.state.perPeer[peer] = (this.state.perPeer[peer] ?? 0) + bytes
    }
    this.emit(false)
  }

  blobDone (): void {
    this.state.blobsDone++
    this.emit(false)
  }

  snapshot (): PullProgress {
    return { ...this.state, perPeer: { ...this.state.perPeer } }
  }

  private emit (force: boolean): void {
    const now = performance.now()
    this.samples.push({ at: now, bytes: this.state.bytesDone })
    while (this.samples.length > 2 && (this.samples[0]?.at ?? now) < now - WINDOW_MS) this.samples.shift()
    const first = this.samples[0]
    this.state.rate = first !== undefined && now > first.at ? (this.state.bytesDone - first.bytes) * 1000 / (now - first.at) : 0
    if (this.onProgress === undefined || (!force && now - this.lastEmit < this.intervalMs)) return
    this.lastEmit = now
    this.onProgress(this.snapshot())
  }
}
