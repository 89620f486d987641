/**
 * The two phase machines of a migration (docs/automata.md "Migration"), apart from the stream and the disk so
 * that each rollback can be tested alone (test/unit/automaton/phases.test.ts):
 *
 * source: offer (target prefetches) -> precopy (a base snapshot while the process runs, for large states) ->
 *         stop -> snapshot (the delta over the base, or the whole state) -> hand over (target pulls, restores,
 *         starts) -> commit -> remove the local copy and release the snapshots. Any failure before commit: tell
 *         the target, start the automaton again from its unchanged state directory, release the snapshots.
 * target: check -> prefetch -> ready -> [base -> pull, unpack -> base ready] -> snapshot -> pull -> restore ->
 *         start -> started -> commit -> done. Any failure, or no COMMIT: remove whatever it made under the
 *         automaton's name, tell the source. A base it cannot take is answered as not applied: the source then
 *         sends the whole state after the stop.
 *
 * The one window no protocol closes is the source's COMMIT without the target's DONE: the target may run the
 * automaton or may have removed it. The source then keeps its stopped copy and the snapshot and restarts nothing
 * (MigrationUncertainError): two running copies would fork the state, a stopped one loses nothing.
 */
import type { Digest } from '../../oci/digest.ts'
import { describeError } from '../../util/errors.ts'
import { UnexpectedResponseError } from '../../p2p/errors.ts'
import { MigrationFailedError, MigrationUncertainError } from './errors.ts'

export type Phase = 'prefetch' | 'precopy' | 'stop' | 'snapshot' | 'transfer' | 'restore' | 'start' | 'commit' | 'cleanup' | 'rollback'

/** One line of the report: a phase that ended, how long it took, and the bytes it moved. */
export interface PhaseEvent {
  phase: Phase
  ms: number
  bytes?: number
  /** Prefetch: verified bytes by peer id. */
  fromPeers?: Record<string, number>
  detail?: string
}

export interface Snapshot {
  digest: Digest
  size: number
  /** A delta layer over this base snapshot (precopy.ts) rather than the whole state. */
  base?: Digest
}

export interface Prefetched {
  fetchedBytes: number
  fromPeers: Record<string, number>
}

/** What the target reports once its container runs. */
export interface Started {
  fetchedBytes: number
  pullMs: number
  restoreMs: number
  startMs: number
}

export interface SourceSteps {
  /** Sends the offer and waits until the target has the artefact. */
  offer: () => Promise<Prefetched>
  /** Sends a base snapshot while the process runs; returns it once the target holds it, undefined if skipped. */
  precopy: () => Promise<Snapshot | undefined>
  stop: () => Promise<void>
  /** Packs the state directory into a pinned blob: the delta over `base` when there is one. */
  snapshot: (base?: Snapshot) => Promise<Snapshot>
  /** Names the snapshot to the target and waits until its container runs. */
  handOver: (snapshot: Snapshot) => Promise<Started>
  /** Sends COMMIT and waits for DONE. */
  commit: () => Promise<void>
  /** Removes the local automaton, its container and state. */
  remove: () => Promise<void>
  /** Unpins the snapshot. */
  release: (snapshot: Snapshot) => Promise<void>
  /** Starts the local automaton again unless it runs (rollback). */
  restart: () => Promise<void>
  /** Tells the target the migration is off (best effort). */
  abort: (reason: string) => Promise<void>
  /** The target, for messages. */
  peer: string
}

export interface MigrationReport {
  phases: PhaseEvent[]
  /** From the moment the source began to stop its process to the target's STARTED. */
  downtimeMs: number
  snapshot: Snapshot
  /** The pre-copied base the snapshot is a delta over. */
  base?: Snapshot
  prefetch: Prefetched
}

type Clock = () => number

export async function runSource (steps: SourceSteps, emit: (event: PhaseEvent) => void = () => {}, now: Clock = () => performance.now()): Promise<MigrationReport> {
  const phases: PhaseEvent[] = []
  const note = (event: PhaseEvent): void => {
    const rounded = { ...event, ms: Math.round(event.ms) }
    phases.push(rounded)
    emit(rounded)
  }
  let phase: Phase = 'prefetch'
  let stopped = false
  let snapshot: Snapshot | undefined
  let base: Snapshot | undefined
  let prefetch: Prefetched
  let downtimeMs: number
  try {
    let at = now()
    prefetch = await steps.offer()
    note({ phase, ms: now() - at, bytes: prefetch.fetchedBytes, fromPeers: prefetch.fromPeers })
    phase = 'precopy'
    at = now()
    base = await steps.precopy()
    if (base !== undefined) note({ phase, ms: now() - at, bytes: base.size, detail: base.digest })
    phase = 'stop'
    const stopAt = at = now()
    // A stop that failed may have stopped the process all the same: a rollback starts it again (if not running).
    stopped = true
    await steps.stop()
    note({ phase, ms: now() - at })
    phase = 'snapshot'
    at = now()
    snapshot = await steps.snapshot(base)
    note({ phase, ms: now() - at, bytes: snapshot.size, detail: snapshot.digest })
    phase = 'transfer'
    const started = await steps.handOver(snapshot)
    downtimeMs = Math.round(now() - stopAt)
    note({ phase: 'transfer', ms: started.pullMs, bytes: started.fetchedBytes })
    note({ phase: 'restore', ms: started.restoreMs })
    note({ phase: 'start', ms: started.startMs })
  } catch (err) {
    throw await rollBack(steps, phase, stopped, [base, snapshot], err, note, now)
  }
  const at = now()
  try {
    await steps.commit()
  } catch (err) {
    throw new MigrationUncertainError(steps.peer, err)
  }
  note({ phase: 'commit', ms: now() - at })
  const cleanupAt = now()
  await steps.remove()
  await steps.release(snapshot)
  if (base !== undefined) await steps.release(base)
  note({ phase: 'cleanup', ms: now() - cleanupAt })
  return { phases, downtimeMs, snapshot, ...(base !== undefined ? { base } : {}), prefetch }
}

/** Undoes what the source did before commit; returns the error to throw. */
async function rollBack (steps: SourceSteps, phase: Phase, stopped: boolean, snapshots: Array<Snapshot | undefined>, err: unknown,
  note: (event: PhaseEvent) => void, now: Clock): Promise<Error> {
  const at = now()
  await steps.abort(describeError(err)).catch(() => {})
  let restartError: unknown
  if (stopped) await steps.restart().catch((e: unknown) => { restartError = e })
  for (const snapshot of snapshots) if (snapshot !== undefined) await steps.release(snapshot).catch(() => {})
  note({ phase: 'rollback', ms: now() - at, detail: restartError === undefined ? (stopped ? 'restarted here' : 'still running here') : `restart failed: ${describeError(restartError)}` })
  if (restartError !== undefined) return new MigrationFailedError(phase, false, new AggregateError([err, restartError], `${describeError(err)}; starting it here again failed too (${describeError(restartError)}), its state directory is kept`))
  return new MigrationFailedError(phase, stopped, err)
}

export interface TargetSteps<Offer> {
  /** Refuses an offer it will not take (trust, a name in use, room); throws. */
  check: (offer: Offer) => Promise<void>
  prefetch: (offer: Offer) => Promise<Prefetched>
  ready: (prefetched: Prefetched) => Promise<void>
  /** The source's next snapshot: a base to pre-copy (BASE) or the one to restore (SNAPSHOT). */
  awaitSnapshot: () => Promise<{ kind: 'base' | 'snapshot', snapshot: Snapshot }>
  /** Pulls and unpacks a base while the source runs, and answers whether it holds it (a failure is a no). */
  precopy: (base: Snapshot) => Promise<void>
  /** Pulls the snapshot blob from the source; returns the bytes fetched. */
  receive: (snapshot: Snapshot) => Promise<number>
  restore: (snapshot: Snapshot) => Promise<void>
  start: () => Promise<void>
  started: (started: Started) => Promise<void>
  awaitCommit: () => Promise<void>
  done: () => Promise<void>
  /** Removes the automaton, its container and state dir, whatever of them exists. */
  undo: () => Promise<void>
  /** Tells the source why (best effort). */
  refuse: (err: unknown) => Promise<void>
  /** Drops the snapshot blob's hold (its lease), after success or failure. */
  finish: () => Promise<void>
}

/** Runs the target's side; returns once the source committed, throws (after undoing) otherwise. */
export async function runTarget<Offer> (offer: Offer, steps: TargetSteps<Offer>, now: Clock = () => performance.now()): Promise<void> {
  let made = false
  try {
    await steps.check(offer)
    await steps.ready(await steps.prefetch(offer))
    let handed = await steps.awaitSnapshot()
    if (handed.kind === 'base') {
      made = true
      await steps.precopy(handed.snapshot)
      handed = await steps.awaitSnapshot()
      if (handed.kind === 'base') throw new UnexpectedResponseError('a second BASE')
    }
    const snapshot = handed.snapshot
    let at = now()
    const fetchedBytes = await steps.receive(snapshot)
    const pullMs = now() - at
    at = now()
    made = true
    await steps.restore(snapshot)
    const restoreMs = now() - at
    at = now()
    await steps.start()
    await steps.started({ fetchedBytes, pullMs, restoreMs, startMs: now() - at })
    await steps.awaitCommit()
  } catch (err) {
    await steps.refuse(err).catch(() => {})
    if (made) await steps.undo()
    throw err
  } finally {
    await steps.finish().catch(() => {})
  }
  // COMMIT came: the automaton is ours now, whether or not DONE reaches the source (which then keeps its
  // stopped copy and says the outcome is unknown).
  await steps.done().catch(() => {})
}
