/** Temporary directories that are removed when the test (or the file's hooks) finish, even on failure. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Anything with `after(fn)`: a `TestContext`, or a suite whose hooks clean up (`{ after }` from node:test). */
export interface Cleanup {
  after: (fn: () => Promise<void> | void) => void
}

/** A fresh directory under the system temp dir, removed by `cleanup.after`. */
export async function tempDir (cleanup: Cleanup, prefix = 'emergence-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanup.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}
