/**
 * The pre-copy of a migration's state (src/automaton/migrate/precopy.ts) on real files and a real store: a base
 * snapshot unpacked as the target does, the state changed (a file modified, one deleted, one added, a directory
 * replaced by a file, a file by a directory, a symlink retargeted, a hard link made), then the delta applied on
 * top with the runner's layer unpacker gives exactly the state at the stop, and holds only what changed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, link, lstat, mkdir, readFile, readdir, readlink, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { snapshotBase, snapshotDelta } from '../../../src/automaton/migrate/precopy.ts'
import { restoreState, unpackBase } from '../../../src/automaton/migrate/snapshot.ts'
import { Store } from '../../../src/store/store.ts'
import { silentLogger } from '../../../src/util/logger.ts'
import { tempDir } from '../../helpers/temp.ts'

/** Every entry under `dir`: its kind, mode, content or link target, and which names share an inode. */
async function tree (dir: string, rel = '', out: Record<string, string> = {}, inodes = new Map<bigint, string>()): Promise<Record<string, string>> {
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name)
    const key = rel === '' ? name : `${rel}/${name}`
    const info = await lstat(path, { bigint: true })
    const mode = (info.mode & 0o7777n).toString(8)
    if (info.isDirectory()) {
      out[key] = `dir ${mode}`
      await tree(path, key, out, inodes)
    } else if (info.isSymbolicLink()) {
      out[key] = `symlink -> ${await readlink(path)}`
    } else {
      const first = info.nlink > 1n ? inodes.get(info.ino) : undefined
      if (info.nlink > 1n && first === undefined) inodes.set(info.ino, key)
      out[key] = `file ${mode} ${createHash('sha256').update(await readFile(path)).digest('hex')}${first !== undefined ? ` linked to ${first}` : ''}`
    }
  }
  return out
}

const HOUR_AGO = new Date(Date.now() - 3_600_000)

test('base + delta gives exactly the state at the stop, and the delta holds only what changed', async t => {
  const root = await tempDir(t)
  const store = await Store.open(join(root, 'store'))
  const state = join(root, 'state')
  await mkdir(join(state, 'dir'), { recursive: true })
  await mkdir(join(state, 'kept', 'deep'), { recursive: true })
  await writeFile(join(state, 'big'), randomBytes(512 * 1024))
  await writeFile(join(state, 'mod'), 'before\n')
  await writeFile(join(state, 'del'), 'gone soon\n')
  await writeFile(join(state, 'dir', 'a'), 'a\n')
  await writeFile(join(state, 'file-then-dir'), 'f\n')
  await writeFile(join(state, 'kept', 'deep', 'x'), 'x\n')
  await writeFile(join(state, 'kept', 'deep', 'y'), 'y\n')
  await symlink('big', join(state, 'link'))
  for (const name of ['big', 'mod', 'del', 'dir/a', 'file-then-dir', 'kept/deep/x', 'kept/deep/y']) await utimes(join(state, name), HOUR_AGO, HOUR_AGO)

  const base = await snapshotBase(store, state, 'base')
  const target = join(root, 'target', 'state')
  await mkdir(join(root, 'target'))
  const unpacked = await unpackBase(store, base.snapshot, target, silentLogger)

  // What the process does between the base and the stop.
  await writeFile(join(state, 'mod'), 'after, and longer\n')
  await unlink(join(state, 'del'))
  await writeFile(join(state, 'added'), 'new\n')
  await rm(join(state, 'dir'), { recursive: true })
  await writeFile(join(state, 'dir'), 'now a file\n')
  await unlink(join(state, 'file-then-dir'))
  await mkdir(join(state, 'file-then-dir'))
  await writeFile(join(state, 'file-then-dir', 'inside'), 'i\n')
  await unlink(join(state, 'kept', 'deep', 'y'))
  await chmod(join(state, 'kept', 'deep', 'x'), 0o600)
  await unlink(join(state, 'link'))
  await symlink('mod', join(state, 'link'))
  await link(join(state, 'added'), join(state, 'added.hard'))

  const delta = await snapshotDelta(store, state, base, 'delta')
  assert.ok(delta.size < 64 * 1024, `a delta of ${delta.size} bytes leaves the unchanged 512 KiB file out`)
  await restoreState(store, delta, target, silentLogger, undefined, unpacked)
  assert.deepEqual(await tree(target), await tree(state))
  // The temp directory of the base became the state directory.
  assert.deepEqual(await readdir(join(root, 'target')), ['state'])
})

test('a file not older than the base walk is sent again even with the same size and mtime', async t => {
  const root = await tempDir(t)
  const store = await Store.open(join(root, 'store'))
  const state = join(root, 'state')
  await mkdir(state)
  await writeFile(join(state, 'n'), '41\n')
  // As a write in the walk's own clock tick would look: the same mtime before and after the change.
  const mtime = new Date(Date.now() + 3_600_000)
  await utimes(join(state, 'n'), mtime, mtime)
  const base = await snapshotBase(store, state, 'base')
  await writeFile(join(state, 'n'), '42\n')
  await utimes(join(state, 'n'), mtime, mtime)
  const target = join(root, 'target')
  const unpacked = await unpackBase(store, base.snapshot, target, silentLogger)
  await restoreState(store, await snapshotDelta(store, state, base, 'delta'), target, silentLogger, undefined, unpacked)
  assert.equal(await readFile(join(target, 'n'), 'utf8'), '42\n')
})

test('an unchanged state gives an empty delta', async t => {
  const root = await tempDir(t)
  const store = await Store.open(join(root, 'store'))
  const state = join(root, 'state')
  await mkdir(join(state, 'sub'), { recursive: true })
  await writeFile(join(state, 'sub', 'f'), randomBytes(4096))
  await utimes(join(state, 'sub', 'f'), HOUR_AGO, HOUR_AGO)
  const base = await snapshotBase(store, state, 'base')
  const delta = await snapshotDelta(store, state, base, 'delta')
  // Only the two zero blocks that end a tar.
  assert.equal(delta.size, 1024)
})
