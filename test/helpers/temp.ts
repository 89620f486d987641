/** Temporary directories that are removed when the test (or the file's hooks) finish, even on failure. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

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

/**
 * A fixture shared by the tests of one file, built on first use in a directory of its own that an `after` hook
 * removes. Call at the top level of the test file. (Top-level `before` hooks may run concurrently, so fixtures
 * are built lazily instead.)
 */
export function fileFixture<T> (build: (dir: string) => Promise<T>, prefix = 'emergence-test-'): () => Promise<T> {
  let dir: string | undefined
  let built: Promise<T> | undefined
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })
  return async () => {
    built ??= mkdtemp(join(tmpdir(), prefix)).then(async created => {
      dir = created
      return await build(created)
    })
    return await built
  }
}
