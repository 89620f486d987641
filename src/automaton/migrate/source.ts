/**
 * The source's side of a migration (docs/automata.md "Migration"): the steps of phases.ts `runSource` on the
 * local automaton and the migration stream. The automaton must be running; its state directory is not touched
 * until the target confirmed, so a rollback starts it again from exactly what it left.
 */
import { mkdir } from 'node:fs/promises'
import type { Store } from '../../store/store.ts'
import { describeError } from '../../util/errors.ts'
import type { Logger } from '../../util/logger.ts'
import { AutomatonNotRunningError } from '../errors.ts'
import { AutomatonPaths, listAutomata, loadAutomaton, removeAutomaton, stopAutomaton } from '../automata.ts'
import type { ArtefactHost } from './artefacts.ts'
import { COMMIT_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS, PRECOPY_MIN_BYTES } from './constants.ts'
import { snapshotBase, snapshotDelta, stateBytes, type Base } from './precopy.ts'
import { runSource, type MigrationReport, type PhaseEvent, type SourceSteps } from './phases.ts'
import type { MigrateSession } from './session.ts'
import { snapshotState } from './snapshot.ts'

export interface SourceContext {
  dataDir: string
  store: Store
  artefacts: ArtefactHost
  logger: Logger
}

export interface MigrateOutOptions {
  /** The target's peer id (for messages and the snapshot's pin note). */
  peer: string
  /** Opens the migration stream to the target. */
  open: (signal: AbortSignal) => Promise<MigrateSession>
  stopTimeoutMs?: number
  signal?: AbortSignal
  onPhase?: (event: PhaseEvent) => void
}

export interface MigrationResult extends MigrationReport {
  name: string
  to: string
}

/** Migrates the running automaton `name` to `options.peer`; see phases.ts for what happens on failure. */
export async function migrateOut (ctx: SourceContext, name: string, options: MigrateOutOptions): Promise<MigrationResult> {
  const spec = await loadAutomaton(ctx.dataDir, name)
  const status = (await listAutomata(ctx.dataDir)).find(a => a.spec.name === name)?.status ?? 'absent'
  if (status !== 'running') throw new AutomatonNotRunningError(name, status)
  const artefact = await ctx.artefacts.describe(spec)
  const stateDir = new AutomatonPaths(ctx.dataDir).state(name)
  // An automaton without state sends an empty snapshot: one path for both.
  await mkdir(stateDir, { recursive: true, mode: 0o755 })
  const signal = options.signal ?? new AbortController().signal
  let session: MigrateSession | undefined
  let base: Base | undefined
  const steps: SourceSteps = {
    peer: options.peer,
    offer: async () => {
      session = await options.open(signal)
      await session.send({ type: 'OFFER', spec, artefact })
      const ready = await session.expect(['READY'], 'READY')
      return { fetchedBytes: ready.fetchedBytes, fromPeers: ready.fromPeers }
    },
    precopy: async () => {
      let made: Base
      try {
        // A file the process removes or resizes under the walk fails it: the one-shot path after the stop then.
        if (await stateBytes(stateDir) < PRECOPY_MIN_BYTES) return undefined
        made = await keepAlive(session, 'precopy', snapshotBase(ctx.store, stateDir, `base state of automaton ${name} migrating to ${options.peer}`))
      } catch (err) {
        // The whole state goes after the stop instead; if the directory cannot be packed, that fails there.
        ctx.logger.warn(`pre-copy of ${name}'s state skipped: ${describeError(err)}`)
        return undefined
      }
      await opened(session).send({ type: 'BASE', digest: made.snapshot.digest, size: made.snapshot.size })
      const ready = await opened(session).expect(['BASE_READY'], 'BASE_READY').catch(async (err: unknown) => {
        await ctx.store.pins.remove(made.snapshot.digest).catch(() => {})
        throw err
      })
      if (!ready.applied) {
        await ctx.store.pins.remove(made.snapshot.digest)
        return undefined
      }
      base = made
      return made.snapshot
    },
    stop: async () => { await keepAlive(session, 'stop', stopAutomaton(ctx.dataDir, name, options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)) },
    snapshot: async () => {
      const note = `state of automaton ${name} migrating to ${options.peer}`
      if (base === undefined) return await keepAlive(session, 'snapshot', snapshotState(ctx.store, stateDir, note))
      const delta = await keepAlive(session, 'snapshot', snapshotDelta(ctx.store, stateDir, base, note))
      return { ...delta, base: base.snapshot.digest }
    },
    handOver: async snapshot => {
      await session?.send({ type: 'SNAPSHOT', digest: snapshot.digest, size: snapshot.size, ...(snapshot.base !== undefined ? { base: snapshot.base } : {}) })
      const started = await opened(session).expect(['STARTED'], 'STARTED')
      return { fetchedBytes: started.fetchedBytes, pullMs: started.pullMs, restoreMs: started.restoreMs, startMs: started.startMs }
    },
    commit: async () => {
      await opened(session).send({ type: 'COMMIT' })
      await opened(session).expect(['DONE'], 'DONE', undefined, COMMIT_TIMEOUT_MS)
    },
    remove: async () => { await removeAutomaton(ctx.dataDir, name) },
    release: async snapshot => { await ctx.store.pins.remove(snapshot.digest) },
    restart: async () => {
      const now = (await listAutomata(ctx.dataDir)).find(a => a.spec.name === name)?.status
      if (now !== 'running') await ctx.artefacts.start(spec)
    },
    abort: async reason => {
      if (session === undefined) return
      await session.send({ type: 'ABORT', reason: reason.slice(0, 1024) }).catch(() => {})
      session.abort(new Error('migration aborted'))
    }
  }
  try {
    const report = await runSource(steps, options.onPhase)
    await session?.close().catch(() => {})
    return { name, to: options.peer, ...report }
  } catch (err) {
    session?.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

function opened (session: MigrateSession | undefined): MigrateSession {
  if (session === undefined) throw new Error('the migration stream is not open')
  return session
}

async function keepAlive<T> (session: MigrateSession | undefined, phase: string, work: Promise<T>): Promise<T> {
  return session !== undefined ? await session.keepAlive(phase, work) : await work
}
