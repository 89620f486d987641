/**
 * The target's side of a migration (docs/automata.md "Migration"): the steps of phases.ts `runTarget` for one
 * inbound stream. It takes offers only from the peers it accepts migrations from, for a name it does not use;
 * it removes whatever it made under that name when anything fails or no COMMIT comes.
 */
import type { PeerId } from '@libp2p/interface'
import { mkdir, rm } from 'node:fs/promises'
import type { Lease } from '../../store/leases.ts'
import type { Store } from '../../store/store.ts'
import { EmergenceError, describeError, isErrno } from '../../util/errors.ts'
import { pathExists } from '../../util/fs.ts'
import type { Logger } from '../../util/logger.ts'
import { AutomatonPaths, removeAutomaton } from '../automata.ts'
import { AutomatonExistsError } from '../errors.ts'
import type { ArtefactHost } from './artefacts.ts'
import type { OfferMessage } from './codec.ts'
import { COMMIT_TIMEOUT_MS } from './constants.ts'
import { MigrationAbortedError, MigrationNotAllowedError } from './errors.ts'
import { UnexpectedResponseError } from '../../p2p/errors.ts'
import { runTarget, type Snapshot, type TargetSteps } from './phases.ts'
import type { MigrateSession } from './session.ts'
import { restoreState, unpackBase } from './snapshot.ts'

export interface TargetContext {
  dataDir: string
  store: Store
  artefacts: ArtefactHost
  logger: Logger
  /** Whether migrations from this peer are accepted (service.ts: trusted peers, else the allow-list). */
  accepts: (peer: string) => boolean
  /** Pulls the snapshot blob from the source (the verified blob pull), under `lease`; returns bytes fetched. */
  pullSnapshot: (snapshot: Snapshot, from: PeerId, options: { lease: Lease, signal: AbortSignal, onBytes: (bytes: number) => void }) => Promise<number>
  /** Names being migrated in right now: a second offer for one of them is refused. */
  incoming: Set<string>
}

/** Serves one migration stream whose first frame must be an OFFER. */
export async function migrateIn (ctx: TargetContext, session: MigrateSession, from: PeerId): Promise<void> {
  const offer = await session.expect(['OFFER'], 'OFFER')
  const name = offer.spec.name
  const paths = new AutomatonPaths(ctx.dataDir)
  let claimed = false
  let lease: Lease | undefined
  let bytes = 0
  /** The unpacked base of a pre-copy: its digest and the temp directory holding it. */
  let base: { digest: string, dir: string } | undefined
  const receive = async (snapshot: Snapshot, phase: string): Promise<number> => {
    lease ??= await ctx.store.createLease()
    bytes = 0
    const held = lease
    return await session.watching(async s => await session.keepAlive(phase, ctx.pullSnapshot(snapshot, from, { lease: held, signal: s, onBytes: b => { bytes += b } }), () => bytes))
  }
  const steps: TargetSteps<OfferMessage> = {
    check: async () => {
      if (!ctx.accepts(from.toString())) throw new MigrationNotAllowedError(from.toString())
      if (ctx.incoming.has(name) || await pathExists(paths.dir(name))) throw new AutomatonExistsError(name)
      ctx.incoming.add(name)
      claimed = true
    },
    // The source may die or give up meanwhile: its stream's end stops the work (session.ts watching).
    prefetch: async o => await session.watching(async s => await session.keepAlive('prefetch', ctx.artefacts.fetch(o.spec, o.artefact, { signal: s, onBytes: b => { bytes = b } }), () => bytes)),
    ready: async prefetched => { await session.send({ type: 'READY', ...prefetched }) },
    awaitSnapshot: async () => {
      const m = await session.expect(['BASE', 'SNAPSHOT'], 'SNAPSHOT')
      const snapshot = { digest: m.digest, size: m.size, ...(m.type === 'SNAPSHOT' && m.base !== undefined ? { base: m.base } : {}) }
      return { kind: m.type === 'BASE' ? 'base' : 'snapshot', snapshot }
    },
    precopy: async snapshot => {
      let fetchedBytes = 0
      try {
        fetchedBytes = await receive(snapshot, 'precopy')
        await mkdir(paths.dir(name), { recursive: true, mode: 0o700 })
        const dir = await session.watching(async s => await session.keepAlive('precopy', unpackBase(ctx.store, snapshot, paths.state(name), ctx.logger, s)))
        base = { digest: snapshot.digest, dir }
      } catch (err) {
        // The source sends the whole state after the stop instead; if it gave up, its next frame says so.
        ctx.logger.warn(`pre-copy of ${name}'s state failed, taking the whole state after the stop: ${describeError(err)}`)
      }
      await session.send({ type: 'BASE_READY', applied: base !== undefined, fetchedBytes })
    },
    receive: async snapshot => await receive(snapshot, 'transfer'),
    restore: async snapshot => {
      await mkdir(paths.dir(name), { recursive: true, mode: 0o700 })
      if (snapshot.base !== undefined && snapshot.base !== base?.digest) throw new UnexpectedResponseError(`a delta over ${snapshot.base}, which this node does not hold`)
      const onto = snapshot.base !== undefined ? base?.dir : undefined
      // A base the source chose not to use (a whole snapshot after all) goes.
      if (onto === undefined && base !== undefined) await rm(base.dir, { recursive: true, force: true })
      base = undefined
      await session.watching(async s => { await session.keepAlive('restore', restoreState(ctx.store, snapshot, paths.state(name), ctx.logger, s, onto)) })
    },
    start: async () => { await session.watching(async () => { await session.keepAlive('start', ctx.artefacts.start(offer.spec)) }) },
    started: async s => {
      await session.send({ type: 'STARTED', fetchedBytes: s.fetchedBytes, pullMs: Math.round(s.pullMs), restoreMs: Math.round(s.restoreMs), startMs: Math.round(s.startMs) })
    },
    awaitCommit: async () => { await session.expect(['COMMIT'], 'COMMIT', undefined, COMMIT_TIMEOUT_MS) },
    done: async () => {
      await session.send({ type: 'DONE' })
      await session.close()
    },
    undo: async () => { await undo(ctx, name) },
    refuse: async err => {
      if (err instanceof MigrationAbortedError) return
      const code = err instanceof EmergenceError ? err.code : 'INTERNAL'
      await session.send({ type: 'ERROR', code: code.slice(0, 64), message: describeError(err).slice(0, 1024) })
      await session.close()
    },
    finish: async () => {
      if (claimed) ctx.incoming.delete(name)
      await lease?.release()
    }
  }
  await runTarget(offer, steps)
  ctx.logger.info(`automaton ${name} migrated in from ${from.toString()}`)
}

/** Removes what a failed migration made under `name`: its container, spec and state directory. */
async function undo (ctx: TargetContext, name: string): Promise<void> {
  try {
    await removeAutomaton(ctx.dataDir, name)
  } catch (err) {
    if (!(err instanceof EmergenceError && err.code === 'AUTOMATON_UNKNOWN') && !isErrno(err, 'ENOENT')) ctx.logger.warn(`removing the half-migrated ${name}: ${describeError(err)}`)
    await rm(new AutomatonPaths(ctx.dataDir).dir(name), { recursive: true, force: true })
  }
}
