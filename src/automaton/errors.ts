/** Errors of automata: their specs and their records. Tests and the CLI match on `name`. */
import { EmergenceError, shorten } from '../util/errors.ts'

/** A spec file that does not parse or does not validate; `key` is the path of the first bad key (`process.args`). */
export class InvalidSpecError extends EmergenceError {
  readonly source: string
  readonly key: string

  constructor (source: string, key: string, why: string, cause?: unknown) {
    super(`${shorten(source)}: ${key !== '' ? `${key}: ` : ''}${why}`, { code: 'SPEC_INVALID', cause })
    this.source = source
    this.key = key
  }
}

/** No automaton of this name on this node. */
export class AutomatonNotFoundError extends EmergenceError {
  readonly automaton: string

  constructor (name: string) {
    super(`no automaton ${JSON.stringify(name)}`, { code: 'AUTOMATON_UNKNOWN' })
    this.automaton = name
  }
}

/** `automaton start` of a name that is already running. */
export class AutomatonRunningError extends EmergenceError {
  readonly automaton: string

  constructor (name: string) {
    super(`automaton ${JSON.stringify(name)} is running: stop it first`, { code: 'AUTOMATON_RUNNING' })
    this.automaton = name
  }
}

/** An automaton that must be running for the request (a migration) is not. */
export class AutomatonNotRunningError extends EmergenceError {
  readonly automaton: string

  constructor (name: string, status: string) {
    super(`automaton ${JSON.stringify(name)} is ${status}, not running: only a running automaton migrates`, { code: 'AUTOMATON_NOT_RUNNING' })
    this.automaton = name
  }
}

/** A name already used on this node (an automaton, or a state directory left by `rm --keep-state`). */
export class AutomatonExistsError extends EmergenceError {
  readonly automaton: string

  constructor (name: string) {
    super(`an automaton ${JSON.stringify(name)} (or its state directory) exists here already`, { code: 'AUTOMATON_EXISTS' })
    this.automaton = name
  }
}
