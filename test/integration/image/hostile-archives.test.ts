/**
 * Archives that try to leave their namespace: `../` and absolute names, symlinks and hard links pointing
 * outside, device and fifo entries. Each is refused with HostileArchiveEntryError after valid blobs were already
 * streamed in, and leaves the store exactly as it was and nothing written beside it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { importArchive } from '../../../src/image/import-archive.ts'
import { LayoutWriter } from '../../helpers/layout.ts'
import { dockerSaveArchive } from '../../helpers/docker-save.ts'
import { assertFailsLeavingTree, snapshotLines, snapshotTree } from '../../helpers/snapshot.ts'
import { directoryEntries, writeTar, type TarEntry } from '../../helpers/tar.ts'
import { tempDir, type Cleanup } from '../../helpers/temp.ts'
import { blobsOnDisk } from '../../helpers/store.ts'

interface Sandbox {
  /** Holds the store, the archive and the layout it was made from; nothing else may appear in it. */
  work: string
  store: Store
  archive: string
}

async function sandbox (t: Cleanup): Promise<Sandbox> {
  const work = await tempDir(t)
  const store = await Store.open(join(work, 'store'))
  // A first import, so the store's bookkeeping directories exist before the snapshots.
  const layout = await LayoutWriter.create(join(work, 'good'))
  const img = await layout.image([{ 'good.txt': 'good' }])
  await layout.index([{ descriptor: img.manifest, ref: 'good' }])
  const goodArchive = join(work, 'good.tar')
  await writeTar(goodArchive, await directoryEntries(layout.dir))
  await importArchive(store, goodArchive)
  return { work, store, archive: join(work, 'hostile.tar') }
}

/** A valid OCI archive (new blobs the store lacks) with `hostile` entries after the blobs. */
async function ociArchiveWith (s: Sandbox, hostile: TarEntry[]): Promise<void> {
  const layout = await LayoutWriter.create(join(s.work, 'src'))
  const img = await layout.image([{ 'a.txt': 'a' }, { 'b.txt': 'b' }])
  await layout.index([{ descriptor: img.manifest, ref: 'v1' }])
  const entries = await directoryEntries(layout.dir)
  const indexAt = entries.findIndex(e => e.name === 'index.json')
  entries.splice(indexAt, 0, ...hostile)
  await writeTar(s.archive, entries)
}

async function assertRefusedCleanly (s: Sandbox, outside: string[]): Promise<void> {
  const blobsBefore = await blobsOnDisk(s.store)
  const workBefore = snapshotLines(await snapshotTree(s.work, ['store/.emergence/locks']))
  await assertFailsLeavingTree(s.store.root, async () => await importArchive(s.store, s.archive), 'HostileArchiveEntryError')
  assert.deepEqual(await blobsOnDisk(s.store), blobsBefore)
  assert.deepEqual(snapshotLines(await snapshotTree(s.work, ['store/.emergence/locks'])), workBefore)
  for (const path of outside) await assert.rejects(access(path), { code: 'ENOENT' }, `${path} was created`)
}

test('an entry named ../x', async (t) => {
  const s = await sandbox(t)
  await ociArchiveWith(s, [{ name: '../escaped.txt', data: 'out' }, { name: 'blobs/../../escaped2.txt', data: 'out' }])
  await assertRefusedCleanly(s, [join(s.work, '..', 'escaped.txt'), join(s.work, 'escaped.txt'), join(s.work, 'escaped2.txt')])
})

test('an entry with an absolute name', async (t) => {
  const s = await sandbox(t)
  const target = join(s.work, 'absolute.txt')
  await ociArchiveWith(s, [{ name: target, data: 'out' }])
  await assertRefusedCleanly(s, [target])
})

test('a symlink pointing outside, absolute or relative', async (t) => {
  for (const linkname of ['/etc/passwd', '../../../../../../etc/passwd', '../../..']) {
    const s = await sandbox(t)
    await ociArchiveWith(s, [{ name: 'blobs/sha256/escape', type: 'symlink', linkname }])
    await assertRefusedCleanly(s, [])
  }
})

test('a hard link pointing outside', async (t) => {
  const s = await sandbox(t)
  await ociArchiveWith(s, [{ name: 'blobs/sha256/hard', type: 'link', linkname: '../../etc/shadow' }])
  await assertRefusedCleanly(s, [])
})

test('a docker save layer that is a symlink to a file outside the archive', async (t) => {
  const s = await sandbox(t)
  const built = await dockerSaveArchive([{ layers: [{ 'a.txt': 'a' }, { 'b.txt': 'b' }], repoTags: ['evil:1'] }])
  const manifest = built.entries.find(e => e.name === 'manifest.json') ?? assert.fail()
  const parsed = JSON.parse(String(manifest.data)) as Array<{ Layers: string[] }>
  const last = parsed[0]?.Layers[1] ?? assert.fail()
  const entries = built.entries.filter(e => e.name !== last)
  entries.splice(entries.indexOf(manifest), 0, { name: last, type: 'symlink', linkname: '../../../../../etc/passwd' })
  await writeTar(s.archive, entries)
  await assertRefusedCleanly(s, [])
})

test('device and fifo entries', async (t) => {
  for (const type of ['character-device', 'block-device', 'fifo'] as const) {
    const s = await sandbox(t)
    await ociArchiveWith(s, [{ name: `dev-${type}`, type }])
    await assertRefusedCleanly(s, [join(s.work, `dev-${type}`)])
  }
})
