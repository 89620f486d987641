/** Where a data dir's daemon answers the CLI: a 0600 unix socket inside the data dir. Kept apart from the
 * daemon so that the CLI can find it without loading the daemon's dependencies. */
import { join } from 'node:path'

export const SOCKET_NAME = 'emergence.sock'

export function socketPath (dataDir: string): string {
  return join(dataDir, SOCKET_NAME)
}
