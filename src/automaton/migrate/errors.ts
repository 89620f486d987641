/** Errors of automaton migration; tests and the CLI match on `name`. */
import { EmergenceError } from '../../util/errors.ts'

/** The target refused the migration or failed a step (its code and message, as it sent them). */
export class MigrationRefusedError extends EmergenceError {
  readonly peer: string
  readonly remoteCode: string

  constructor (peer: string, code: string, message: string) {
    super(`the target ${peer} refused the migration: ${message} (${code})`, { code: 'MIGRATION_REFUSED' })
    this.peer = peer
    this.remoteCode = code
  }
}

/**
 * The migration failed before the target confirmed; the automaton runs on the source again (`restarted`), or
 * was never stopped. `cause` holds the failure.
 */
export class MigrationFailedError extends EmergenceError {
  readonly phase: string
  readonly restarted: boolean

  constructor (phase: string, restarted: boolean, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause)
    super(`migration failed at ${phase}: ${message}; ${restarted ? 'the automaton runs here again' : 'the automaton still runs here'}`, { code: 'MIGRATION_FAILED', cause })
    this.phase = phase
    this.restarted = restarted
  }
}

/**
 * The source sent COMMIT but heard no DONE: the target may or may not run the automaton. The source keeps its
 * stopped copy, its state directory and the pinned snapshot, and restarts nothing (two running copies would fork
 * the state); the operator checks the target (`automaton ls` there) and starts or removes the copy here.
 */
export class MigrationUncertainError extends EmergenceError {
  readonly peer: string

  constructor (peer: string, cause: unknown) {
    super(`migration outcome unknown: no confirmation from ${peer} after COMMIT; the stopped automaton and its state are kept here (check \`automaton ls\` on the target)`, { code: 'MIGRATION_UNCERTAIN', cause })
    this.peer = peer
  }
}

/** A migration offered by a peer this node does not accept migrations from (docs/automata.md "Migration"). */
export class MigrationNotAllowedError extends EmergenceError {
  constructor (peer: string) {
    super(`migrations from ${peer} are not accepted: it is neither a trusted peer nor, without trusted peers, on the allow-list`, { code: 'NOT_ALLOWED' })
  }
}

/** `--to` that names neither a peer id nor a TCP multiaddr. */
export class InvalidMigrationTargetError extends EmergenceError {
  constructor (target: string, why: string) {
    super(`bad migration target ${JSON.stringify(target)}: ${why}`, { code: 'BAD_TARGET' })
  }
}

/** The source gave the migration up (its ABORT, or its stream ended): the target removes what it made. */
export class MigrationAbortedError extends EmergenceError {
  constructor (peer: string, reason: string) {
    super(`the source ${peer} gave the migration up: ${reason}`, { code: 'MIGRATION_ABORTED' })
  }
}

/** A second migration of an automaton that is migrating. */
export class MigrationInProgressError extends EmergenceError {
  constructor (name: string) {
    super(`automaton ${JSON.stringify(name)} is migrating already`, { code: 'MIGRATION_IN_PROGRESS' })
  }
}
