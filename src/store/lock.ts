/**
 * Cross-process locks on the store (index.json updates, GC) with proper-lockfile: a lock directory created
 * atomically, refreshed while held, and taken over when its holder died and it went stale.
 */
import lockfile from 'proper-lockfile'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../util/errors.ts'

export type LockName = 'index' | 'gc' | 'pins'

/** Runs `fn` while holding the named lock in `locksDir`. */
export async function withLock<T> (locksDir: string, name: LockName, fn: () => Promise<T>): Promise<T> {
  await mkdir(locksDir, { recursive: true })
  const target = join(locksDir, name)
  try {
    await writeFile(target, '', { flag: 'wx' })
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err
  }
  const release = await lockfile.lock(target, {
    stale: 10_000,
    update: 2_000,
    retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 200 }
  })
  try {
    return await fn()
  } finally {
    await release()
  }
}
