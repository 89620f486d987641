/**
 * The state snapshot of a migration (src/automaton/migrate/snapshot.ts) on real files and a real store: the same
 * state gives the same digest, the snapshot is pinned, a restore gives back the files (modes, symlinks, hard
 * links), and a restore that fails leaves no state directory.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { link, lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { restoreState, snapshotState } from '../../../src/automaton/migrate/snapshot.ts'
import { Store } from '../../../src/store/store.ts'
import { silentLogger } from '../../../src/util/logger.ts'
import { tempDir } from '../../helpers/temp.ts'

async function stateDir (root: string): Promise<string> {
  const dir = join(root, 'state')
  await mkdir(join(dir, 'sub'), { recursive: true })
  await writeFile(join(dir, 'n'), '41\n')
  await writeFile(join(dir, 'sub', 'run.sh'), '#!/bin/sh\n', { mode: 0o750 })
  await link(join(dir, 'n'), join(dir, 'n.hard'))
  await symlink('/etc/passwd', join(dir, 'outside'))
  return dir
}

test('the same state gives the same pinned blob; a restore gives the files back', async t => {
  const root = await tempDir(t)
  const store = await Store.open(join(root, 'store'))
  const dir = await stateDir(root)
  const first = await snapshotState(store, dir, 'state of automaton test')
  const again = await snapshotState(store, dir, 'state of automaton test')
  assert.deepEqual(again, first)
  assert.deepEqual((await store.pins.list()).map(p => p.digest), [first.digest])
  assert.equal((await stat(store.paths.blob(first.digest))).size, first.size)

  await writeFile(join(dir, 'n'), '42\n')
  assert.notEqual((await snapshotState(store, dir, 'x')).digest, first.digest)

  const restored = join(root, 'restored')
  await restoreState(store, first, restored, silentLogger)
  assert.equal(await readFile(join(restored, 'n'), 'utf8'), '41\n')
  assert.equal((await stat(join(restored, 'sub', 'run.sh'))).mode & 0o777, 0o750)
  assert.equal((await stat(join(restored, 'n.hard'))).ino, (await stat(join(restored, 'n'))).ino)
  // A symlink stays a link: nothing outside the directory was read into the snapshot.
  assert.ok((await lstat(join(restored, 'outside'))).isSymbolicLink())
  assert.equal(await readlink(join(restored, 'outside')), '/etc/passwd')
  assert.deepEqual((await readdir(root)).sort(), ['restored', 'state', 'store'])
})

test('a restore of a blob that is not there fails and leaves no directory', async t => {
  const root = await tempDir(t)
  const store = await Store.open(join(root, 'store'))
  const missing = { digest: `sha256:${'c'.repeat(64)}` as const, size: 1024 }
  await assert.rejects(restoreState(store, missing, join(root, 'restored'), silentLogger))
  assert.deepEqual((await readdir(root)).sort(), ['store'])
})

test('a socket in the state fails the snapshot and pins nothing', async t => {
  const root = await tempDir(t)
  const store = await Store.open(join(root, 'store'))
  const dir = await stateDir(root)
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>(resolve => server.listen(join(dir, 'sock'), resolve))
  t.after(() => { server.close() })
  await assert.rejects(snapshotState(store, dir, 'x'), { name: 'UnsupportedEntryError' })
  assert.deepEqual(await store.pins.list(), [])
})
