/**
 * Migration of a running automaton to another node (docs/automata.md "Migration"), over
 * `/emergence/migrate/1.1.0` (docs/protocol.md §11).
 *
 * The contract:
 * - **The target prefetches while the source runs**: the image (by digest) or closure from every peer that has it.
 * - **Downtime is stop -> snapshot -> pull -> restore -> start**: the state directory travels as deterministic,
 *   content-addressed tar blobs (`snapshot.ts`), pinned on the source, pulled and verified like any blob; a large
 *   one as a base while the automaton runs and a delta layer of what changed after the stop (`precopy.ts`).
 * - **Nothing is lost**: the source drops its copy only after the target confirmed (STARTED, COMMIT, DONE); any
 *   failure before that starts the automaton on the source again and removes what the target made
 *   (`phases.ts`); the one ambiguous case keeps the stopped copy (MigrationUncertainError).
 * - **Only from accepted peers**: trusted peers, else the allow-list, else nobody (`service.ts`).
 *
 * @example
 * ```ts
 * const service = new MigrationService({ node, p2p, store, artefacts: nodeArtefacts({ dataDir, store, p2p, logger }) }, { dataDir, trustedPeers })
 * await service.start()
 * const result = await service.migrate('counter', { to: '/ip4/10.0.0.4/tcp/7701/p2p/12D3KooW...', onPhase: phase => { report(phase) } })
 * ```
 */
export * from './errors.ts'
export { MIGRATE_PROTOCOL } from './constants.ts'
export { MigrationService, type MigrationComponents, type MigrationInit, type MigrateOptions } from './service.ts'
export { nodeArtefacts, type ArtefactHost, type NodeArtefactsInit } from './artefacts.ts'
export { runSource, runTarget, type Phase, type PhaseEvent, type MigrationReport, type Snapshot, type SourceSteps, type TargetSteps } from './phases.ts'
export { snapshotState, restoreState, unpackBase } from './snapshot.ts'
export { snapshotBase, snapshotDelta, type Base } from './precopy.ts'
export { migrateOut, type MigrationResult } from './source.ts'
