/**
 * Progress of a closure pull, shaped like an image pull's (p2p PullProgress): paths and NAR bytes done against
 * the total, the rate over the last two seconds, and verified bytes by peer. Events are throttled; phase changes
 * and the last event always go out.
 */

export interface NixPullProgress {
  root: string
  phase: 'resolving' | 'fetching' | 'done'
  /** Paths imported into the Nix store. */
  pathsDone: number
  /** Paths to import (those the local Nix store lacks). */
  pathsTotal: number
  /** Verified NAR bytes, counting NARs the blob store held already and resumed pieces. */
  bytesDone: number
  bytesTotal: number
  /** Bytes per second over the last two seconds. */
  rate: number
  peers: number
  perPeer: Record<string, number>
}

const WINDOW_MS = 2_000

export class NixPullTracker {
  readonly #state: NixPullProgress
  readonly #onProgress: ((progress: NixPullProgress) => void) | undefined
  readonly #intervalMs: number
  readonly #samples: Array<{ at: number, bytes: number }> = []
  #lastEmit = 0

  constructor (root: string, onProgress: ((progress: NixPullProgress) => void) | undefined, intervalMs = 200) {
    this.#state = { root, phase: 'resolving', pathsDone: 0, pathsTotal: 0, bytesDone: 0, bytesTotal: 0, rate: 0, peers: 0, perPeer: {} }
    this.#onProgress = onProgress
    this.#intervalMs = intervalMs
  }

  phase (phase: NixPullProgress['phase']): void {
    this.#state.phase = phase
    this.#emit(true)
  }

  plan (paths: number, bytes: number): void {
    this.#state.pathsTotal = paths
    this.#state.bytesTotal = bytes
    this.#emit(false)
  }

  /** Verified bytes; `peer` is undefined for bytes that were already on disk. */
  bytes (bytes: number, peer?: string): void {
    this.#state.bytesDone += bytes
    if (peer !== undefined) {
      if (this.#state.perPeer[peer] === undefined) this.#state.peers++
      this.#state.perPeer[peer] = (this.#state.perPeer[peer] ?? 0) + bytes
    }
    this.#emit(false)
  }

  pathDone (): void {
    this.#state.pathsDone++
    this.#emit(false)
  }

  snapshot (): NixPullProgress {
    return { ...this.#state, perPeer: { ...this.#state.perPeer } }
  }

  #emit (force: boolean): void {
    const now = performance.now()
    this.#samples.push({ at: now, bytes: this.#state.bytesDone })
    while (this.#samples.length > 2 && (this.#samples[0]?.at ?? now) < now - WINDOW_MS) this.#samples.shift()
    const first = this.#samples[0]
    this.#state.rate = first !== undefined && now > first.at ? (this.#state.bytesDone - first.bytes) * 1000 / (now - first.at) : 0
    if (this.#onProgress === undefined || (!force && now - this.#lastEmit < this.#intervalMs)) return
    this.#lastEmit = now
    this.#onProgress(this.snapshot())
  }
}
