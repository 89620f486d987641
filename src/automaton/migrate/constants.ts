/** Protocol id, timeouts and bounds of automaton migration (docs/protocol.md §11, docs/automata.md "Migration"). */

/** One stream per migration, opened by the source; length-prefixed JSON frames on the blob protocol's framing. */
export const MIGRATE_PROTOCOL = '/emergence/migrate/1.1.0'

/** A state directory of at least this many bytes is pre-copied (a base while it runs, a delta after the stop). */
export const PRECOPY_MIN_BYTES = 1024 * 1024

/** A side that works for long (a prefetch, a snapshot) sends PROGRESS this often, so the other knows it lives. */
export const PROGRESS_INTERVAL_MS = 2_000
/** The longest either side waits for the next frame (PROGRESS included) before it gives the migration up. */
export const IDLE_TIMEOUT_MS = 30_000
/** The target waits this long for COMMIT after STARTED; without it, it removes what it started. */
export const COMMIT_TIMEOUT_MS = 30_000
/** While the target pulls, restores and starts, it reads the source's next frame this long at most (an ABORT). */
export const WATCH_TIMEOUT_MS = 6 * 60 * 60 * 1000
/** Writing one frame. */
export const WRITE_TIMEOUT_MS = 10_000
/** Migrations a node accepts at once; more are refused as BUSY. */
export const MAX_INCOMING = 2
/** How long the source gives its process to end on SIGTERM before SIGKILL, unless told otherwise. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000
/** Peers named in a READY frame's byte counts (the prefetch's sources). */
export const MAX_REPORTED_PEERS = 64
