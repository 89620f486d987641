/**
 * A snapshot of a directory tree (every file with the sha256 of its bytes, every directory and link), to check
 * that a failed operation left a store exactly as it was.
 */
import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { join, relative } from 'node:path'
import assert from 'node:assert/strict'

/** Paths relative to the root that are left out, with everything below them. */
export const STORE_SNAPSHOT_EXCLUDE = ['.emergence/locks']

export async function snapshotTree (root: string, exclude: string[] = STORE_SNAPSHOT_EXCLUDE): Promise<Map<string, string>> {
  const entries = new Map<string, string>()
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      const rel = relative(root, path)
      if (exclude.some(e => rel === e || rel.startsWith(e + '/'))) continue
      const info = await lstat(path)
      if (info.isDirectory()) {
        entries.set(rel, 'dir')
        await walk(path)
      } else if (info.isSymbolicLink()) {
        entries.set(rel, `link -> ${await readlink(path)}`)
      } else {
        entries.set(rel, `file ${createHash('sha256').update(await readFile(path)).digest('hex')}`)
      }
    }
  }
  await walk(root)
  return entries
}

/** The snapshot as sorted `path: what` lines, which assert.deepEqual shows as a readable diff. */
export function snapshotLines (snapshot: Map<string, string>): string[] {
  return [...snapshot].map(([path, what]) => `${path}: ${what}`).sort()
}

/**
 * Runs `action`, which must fail with an error named `errorName`, and checks that the tree under `root` is
 * exactly as it was before.
 */
export async function assertFailsLeavingTree (root: string, action: () => Promise<unknown>, errorName: string): Promise<void> {
  const before = snapshotLines(await snapshotTree(root))
  await assert.rejects(action, (err: unknown) => {
    assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`)
    assert.equal(err.name, errorName, `expected ${errorName}, got ${err.name}: ${err.message}`)
    return true
  })
  assert.deepEqual(snapshotLines(await snapshotTree(root)), before)
}
