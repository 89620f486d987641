/**
 * Makes the node hold the desired set (docs/automata.md "Cluster sync"): each item the node lacks is pulled
 * through the normal pull (pieces from every peer that has them, so nodes that pull at the same time feed each
 * other), `concurrency` items at a time, a failed pull retried after 2 s, 4 s, 8 s... (at most RETRY_MAX_MS,
 * with jitter so that nodes do not retry in step). An item removed from the set has its pull stopped; what the
 * node already holds stays until GC, which no longer protects it. Held items are checked again every
 * `recheckMs`, so one removed by hand is pulled again.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { Semaphore } from '../util/semaphore.ts'
import { DEFAULT_SYNC_CONCURRENCY, RECHECK_MS, RETRY_BASE_MS, RETRY_MAX_MS } from './constants.ts'
import type { DesiredItem } from './document.ts'
import type { SyncItem } from './item.ts'

/** How the node checks and fetches an item: the daemon adapts its puller and its Nix side (service.ts). */
export interface SyncFetcher {
  held: (item: SyncItem, signal: AbortSignal) => Promise<boolean>
  pull: (item: SyncItem, options: { signal: AbortSignal, onProgress: (bytesDone: number, bytesTotal: number) => void }) => Promise<void>
}

export type ItemState = 'checking' | 'queued' | 'pulling' | 'held' | 'failed'

export interface ItemStatus extends DesiredItem {
  state: ItemState
  bytesDone: number
  bytesTotal: number
  /** Failed attempts since the last success. */
  attempts: number
  /** Why the last attempt failed (state `failed`). */
  error?: string
  /** When the next attempt starts (ISO time, state `failed`). */
  retryAt?: string
}

export interface ReconcilerInit {
  fetcher: SyncFetcher
  /** @default DEFAULT_SYNC_CONCURRENCY */
  concurrency?: number
  retryBaseMs?: number
  retryMaxMs?: number
  recheckMs?: number
  /** Called each time every item of a non-empty set becomes held. */
  onAllHeld?: (count: number) => void
  logger?: Logger
}

interface Track {
  status: ItemStatus
  controller: AbortController
  running: boolean
}

function sameItem (a: SyncItem, b: SyncItem): boolean {
  return a.kind === 'image' && b.kind === 'image' ? a.ref === b.ref && a.digest === b.digest : a.kind === 'nix' && b.kind === 'nix' && a.path === b.path
}

export class Reconciler {
  private readonly init: ReconcilerInit
  private readonly logger: Logger
  private readonly slots: Semaphore
  private readonly tracks = new Map<string, Track>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private allHeld = false

  constructor (init: ReconcilerInit) {
    this.init = init
    this.logger = init.logger ?? silentLogger
    this.slots = new Semaphore(init.concurrency ?? DEFAULT_SYNC_CONCURRENCY)
  }

  start (): void {
    this.timer = setInterval(() => { this.recheck() }, this.init.recheckMs ?? RECHECK_MS)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.timer)
    for (const track of this.tracks.values()) track.controller.abort(new Error('sync is stopping'))
  }

  /** The set changed: start on new items, stop pulls of removed ones. */
  update (desired: ReadonlyMap<string, DesiredItem>): void {
    for (const [key, track] of this.tracks) {
      const wanted = desired.get(key)
      if (wanted !== undefined && sameItem(wanted.item, track.status.item)) {
        Object.assign(track.status, { publisher: wanted.publisher, version: wanted.version })
        continue
      }
      track.controller.abort(new Error(`${key} left the desired set`))
      this.tracks.delete(key)
    }
    for (const [key, wanted] of desired) {
      if (this.tracks.has(key) || this.stopped) continue
      const track: Track = { status: { ...wanted, state: 'checking', bytesDone: 0, bytesTotal: 0, attempts: 0 }, controller: new AbortController(), running: false }
      this.tracks.set(key, track)
      this.drive(track)
    }
    this.noteHeld()
  }

  status (): ItemStatus[] {
    return [...this.tracks.values()].map(t => ({ ...t.status })).sort((a, b) => a.key.localeCompare(b.key))
  }

  /** True when every item of the set is held (an empty set included). */
  holdsAll (): boolean {
    return [...this.tracks.values()].every(t => t.status.state === 'held')
  }

  /** Held items checked again; one that is gone is pulled again. */
  private recheck (): void {
    for (const track of this.tracks.values()) {
      if (!track.running) this.drive(track)
    }
  }

  private drive (track: Track): void {
    track.running = true
    void this.run(track).catch(err => {
      // Only an abort ends a run early: the item left the set or the node stops.
      if (!track.controller.signal.aborted) this.logger.warn(`sync: ${track.status.key}: ${describeError(err)}`)
    }).finally(() => {
      track.running = false
      this.noteHeld()
    })
  }

  private async run (track: Track): Promise<void> {
    const { status, controller: { signal } } = track
    while (!signal.aborted) {
      if (await this.init.fetcher.held(status.item, signal)) {
        Object.assign(status, { state: 'held', attempts: 0, bytesDone: status.bytesTotal })
        delete status.error
        delete status.retryAt
        return
      }
      status.state = 'queued'
      this.noteHeld()
      const release = await this.slots.acquire(signal)
      let wait: number
      try {
        status.state = 'pulling'
        await this.init.fetcher.pull(status.item, {
          signal,
          onProgress: (done, total) => { status.bytesDone = done; status.bytesTotal = total }
        })
        continue
      } catch (err) {
        if (signal.aborted) return
        status.attempts++
        wait = this.backoff(status.attempts)
        Object.assign(status, { state: 'failed', error: describeError(err), retryAt: new Date(Date.now() + wait).toISOString() })
        this.logger.warn(`sync: pulling ${status.key} failed (attempt ${status.attempts}, next in ${Math.round(wait / 1000)} s): ${status.error ?? ''}`)
      } finally {
        release()
      }
      await delay(wait, undefined, { signal }).catch(() => {})
    }
  }

  private backoff (attempts: number): number {
    const base = this.init.retryBaseMs ?? RETRY_BASE_MS
    const ceiling = Math.min(base * 2 ** Math.max(0, attempts - 1), this.init.retryMaxMs ?? RETRY_MAX_MS)
    return Math.round(ceiling * (0.75 + Math.random() * 0.5))
  }

  /** Tells `onAllHeld` once per time the whole set becomes held. */
  private noteHeld (): void {
    const all = this.tracks.size > 0 && this.holdsAll()
    if (all && !this.allHeld) this.init.onAllHeld?.(this.tracks.size)
    this.allHeld = all
  }
}
