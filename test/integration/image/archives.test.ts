/**
 * Archives made by real tools (skopeo's oci-archive and docker-archive, GNU tar) and a legacy `docker save`
 * archive built byte by byte: each is imported, exported again, and unpacked by umoci.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { importArchive } from '../../../src/image/import-archive.ts'
import { exportImage } from '../../../src/image/export.ts'
import { parseImageConfig, parseManifest } from '../../../src/oci/types.ts'
import { dockerSaveArchive } from '../../helpers/docker-save.ts'
import { writeTar } from '../../helpers/tar.ts'
import { blobsOnDisk, listDir } from '../../helpers/store.ts'
import { fileFixture, tempDir } from '../../helpers/temp.ts'
import { tool } from '../../helpers/tools.ts'
import { buildUmociFixture, layoutImageDigests } from '../../helpers/umoci.ts'
import type { Cleanup } from '../../helpers/temp.ts'

const setup = fileFixture(async work => await buildUmociFixture(join(work, 'fixture')))

async function freshStore (t: Cleanup): Promise<{ dir: string, store: Store }> {
  const dir = await tempDir(t)
  return { dir, store: await Store.open(join(dir, 'store')) }
}

/** Exports `ref` and unpacks it with umoci; returns the rootfs path. */
async function exportAndUnpack (store: Store, ref: string, dir: string): Promise<string> {
  await exportImage(store, ref, join(dir, 'exported'), { as: 'out' })
  await tool('umoci', ['unpack', '--image', `${join(dir, 'exported')}:out`, join(dir, 'bundle')])
  return join(dir, 'bundle', 'rootfs')
}

async function assertAppRootfs (rootfs: string): Promise<void> {
  assert.equal(await readFile(join(rootfs, 'hello.txt'), 'utf8'), 'hello from the first layer\n')
  assert.equal(await readFile(join(rootfs, 'etc', 'motd'), 'utf8'), 'second layer\n')
  assert.equal(await readFile(join(rootfs, 'app.txt'), 'utf8'), 'third layer, only in app\n')
}

test('an oci-archive written by skopeo imports with the same blobs', async (t) => {
  const fixture = await setup()
  const { dir, store } = await freshStore(t)
  const archive = join(dir, 'app.tar')
  await tool('skopeo', ['copy', '--quiet', `oci:${fixture.layout}:app`, `oci-archive:${archive}:v1`])
  const [result] = await importArchive(store, archive)
  assert.equal(result?.ref, 'app:v1')
  assert.deepEqual(await blobsOnDisk(store), [...await layoutImageDigests(fixture.layout, 'app')].sort())
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
  await assertAppRootfs(await exportAndUnpack(store, 'app:v1', dir))
})

test('a layout tarred by GNU tar (./ names, directories) imports every tag', async (t) => {
  const fixture = await setup()
  const { dir, store } = await freshStore(t)
  const archive = join(dir, 'both.tar')
  await tool('tar', ['-C', fixture.layout, '-cf', archive, '.'])
  const results = await importArchive(store, archive)
  assert.deepEqual(results.map(r => r.ref).sort(), ['both:app', 'both:base'])
  const union = new Set([...await layoutImageDigests(fixture.layout, 'app'), ...await layoutImageDigests(fixture.layout, 'base')])
  assert.deepEqual(await blobsOnDisk(store), [...union].sort())
})

test('a docker-archive written by skopeo imports, exports and unpacks', async (t) => {
  const fixture = await setup()
  const { dir, store } = await freshStore(t)
  const archive = join(dir, 'docker.tar')
  await tool('skopeo', ['copy', '--quiet', `oci:${fixture.layout}:app`, `docker-archive:${archive}:team/app:1.0`])
  const [result] = await importArchive(store, archive)
  assert.equal(result?.ref, 'team/app:1.0')
  const manifest = parseManifest(await store.blobs.readBytes(result?.digest ?? assert.fail()))
  assert.equal(manifest.layers.length, 3)
  // docker save holds uncompressed layers: their digests are the config's diff_ids.
  const config = parseImageConfig(await store.blobs.readBytes(manifest.config.digest))
  assert.deepEqual(manifest.layers.map(l => l.digest), config.rootfs.diff_ids)
  assert.equal(config.config?.WorkingDir, '/srv')
  await assertAppRootfs(await exportAndUnpack(store, 'team/app:1.0', dir))
})

test('a legacy docker save archive with a symlinked repeat layer unpacks with umoci after export', async (t) => {
  const { dir, store } = await freshStore(t)
  const archive = join(dir, 'legacy.tar')
  const built = await dockerSaveArchive([{
    layers: [{ 'etc/os-release': 'ID=legacy\n' }, { 'srv/app': 'v1\n' }, { 'etc/os-release': 'ID=legacy\n' }],
    repoTags: ['legacy/app:1']
  }])
  await writeTar(archive, built.entries)
  const [result] = await importArchive(store, archive)
  assert.equal(result?.ref, 'legacy/app:1')
  assert.equal(result?.blobs, 4)
  const rootfs = await exportAndUnpack(store, 'legacy/app:1', dir)
  assert.equal(await readFile(join(rootfs, 'etc', 'os-release'), 'utf8'), 'ID=legacy\n')
  assert.equal(await readFile(join(rootfs, 'srv', 'app'), 'utf8'), 'v1\n')
})
