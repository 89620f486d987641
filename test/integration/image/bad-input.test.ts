/**
 * Bad sources, from a layout directory and from an archive of the same layout: each import must fail with its
 * typed error and leave the store exactly as it was (the store already holds a umoci image whose blobs the bad
 * sources share, so a rollback that deletes too much shows too).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { importLayout } from '../../../src/image/import-layout.ts'
import { importArchive } from '../../../src/image/import-archive.ts'
import { MAX_JSON_BYTES, parseManifest, type Descriptor } from '../../../src/oci/types.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import { LayoutWriter, layerTar } from '../../helpers/layout.ts'
import { assertFailsLeavingTree } from '../../helpers/snapshot.ts'
import { directoryEntries, writeTar } from '../../helpers/tar.ts'
import { fileFixture, tempDir, type Cleanup } from '../../helpers/temp.ts'
import { buildUmociFixture } from '../../helpers/umoci.ts'

const setup = fileFixture(async work => {
  const fixture = await buildUmociFixture(join(work, 'fixture'))
  const store = await Store.open(join(work, 'store'))
  await importLayout(store, fixture.layout, { sourceRef: 'app', as: 'good/app:1' })
  const manifest = parseManifest(await store.blobs.readBytes((await store.resolve('good/app:1')).descriptor.digest))
  // A layer the store already holds: bad sources include it, and it must survive their rollback.
  const shared = manifest.layers[0] ?? assert.fail()
  return { store, shared, fixtureLayout: fixture.layout }
})

let made = 0

/** A layout whose image has the store's shared layer, a new layer, and whatever `spoil` does to it. */
async function badLayout (t: Cleanup, spoil: (layout: LayoutWriter, parts: { shared: Descriptor, fresh: Descriptor, config: Descriptor }) => Promise<unknown>): Promise<string> {
  const { shared, fixtureLayout } = await setup()
  const layout = await LayoutWriter.create(join(await tempDir(t), 'bad'))
  await copyFile(join(fixtureLayout, 'blobs', 'sha256', shared.digest.slice(7)), layout.blobPath(shared.digest))
  const fresh = await layout.blob(await layerTar({ 'fresh.txt': `new content ${++made}` }), MEDIA_TYPE.ociLayer)
  const config = await layout.blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), MEDIA_TYPE.ociConfig)
  const manifest = await spoil(layout, { shared, fresh, config }) as Descriptor | undefined
  if (manifest !== undefined) await layout.index([{ descriptor: manifest, ref: 'bad' }])
  return layout.dir
}

/** Imports `dir` as a layout and as an OCI archive of it; both must fail with `errorName` and change nothing. */
async function assertRefused (t: Cleanup, dir: string, errorName: string, options: { as?: string } = {}): Promise<void> {
  const { store } = await setup()
  await assertFailsLeavingTree(store.root, async () => await importLayout(store, dir, options), errorName)
  const archive = join(await tempDir(t), 'bad.tar')
  await writeTar(archive, await directoryEntries(dir))
  await assertFailsLeavingTree(store.root, async () => await importArchive(store, archive, options), errorName)
  assert.equal((await store.refs.list()).length, 1)
}

const manifestOf = (config: Descriptor, layers: Descriptor[]): unknown => ({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers })

test('the store opens with the image the bad imports must not disturb', async () => {
  const { store } = await setup()
  assert.deepEqual((await store.refs.list()).map(e => e.ref), ['good/app:1'])
})

test('a blob whose bytes do not match its digest', async (t) => {
  const dir = await badLayout(t, async (layout, { shared, fresh, config }) => {
    const victim = await layout.blob(await layerTar({ 'victim.txt': 'original' }), MEDIA_TYPE.ociLayer)
    const bytes = await readFile(layout.blobPath(victim.digest))
    bytes[bytes.length - 1024] = 0x58
    await writeFile(layout.blobPath(victim.digest), bytes)
    return await layout.manifest(manifestOf(config, [shared, fresh, victim]))
  })
  await assertRefused(t, dir, 'DigestMismatchError')
})

test('a descriptor size smaller, or larger, than the blob', async (t) => {
  for (const delta of [-1, 1]) {
    const dir = await badLayout(t, async (layout, { shared, fresh, config }) =>
      await layout.manifest(manifestOf(config, [shared, { ...fresh, size: fresh.size + delta }])))
    await assertRefused(t, dir, 'InvalidImageSourceError')
  }
})

test('a manifest that is not JSON', async (t) => {
  const dir = await badLayout(t, async layout => await layout.blob('{"schemaVersion": 2, "config": ', MEDIA_TYPE.ociManifest))
  await assertRefused(t, dir, 'InvalidManifestError')
})

test('a manifest missing its layers', async (t) => {
  const dir = await badLayout(t, async (layout, { config }) => await layout.manifest({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config }))
  await assertRefused(t, dir, 'InvalidManifestError')
})

test('a manifest over 4 MiB', async (t) => {
  const dir = await badLayout(t, async (layout, { shared, fresh, config }) =>
    await layout.manifest({ ...manifestOf(config, [shared, fresh]) as object, annotations: { padding: 'x'.repeat(MAX_JSON_BYTES) } }))
  await assertRefused(t, dir, 'InvalidManifestError')
})

test('a manifest naming a blob the source lacks', async (t) => {
  const dir = await badLayout(t, async (layout, { shared, fresh, config }) => {
    const absent: Descriptor = { mediaType: MEDIA_TYPE.ociLayer, digest: `sha256:${'0'.repeat(64)}`, size: 10 }
    return await layout.manifest(manifestOf(config, [shared, fresh, absent]))
  })
  await assertRefused(t, dir, 'MissingBlobError')
})

const badDigests: Array<[string, string]> = [
  ['upper case', `sha256:${'AB'.repeat(32)}`],
  ['too short', `sha256:${'a'.repeat(40)}`],
  ['a slash', `sha256:${'a'.repeat(32)}/${'b'.repeat(31)}`],
  ['dot-dot', `sha256:../../../../../../${'a'.repeat(46)}`]
]

for (const [why, digest] of badDigests) {
  test(`a manifest whose layer digest has ${why}`, async (t) => {
    const dir = await badLayout(t, async (layout, { shared, fresh, config }) =>
      await layout.manifest(manifestOf(config, [shared, fresh, { mediaType: MEDIA_TYPE.ociLayer, digest: digest as Descriptor['digest'], size: 10 }])))
    await assertRefused(t, dir, 'InvalidManifestError')
  })

  test(`an index.json entry whose digest has ${why}`, async (t) => {
    const dir = await badLayout(t, async (layout, { shared, fresh, config }) => {
      const manifest = await layout.manifest(manifestOf(config, [shared, fresh]))
      await layout.index([{ descriptor: { ...manifest, digest: digest as Descriptor['digest'] }, ref: 'bad' }])
      return undefined
    })
    await assertRefused(t, dir, 'InvalidManifestError')
  })
}

test('a --name that breaks the tag grammar', async (t) => {
  const dir = await badLayout(t, async (layout, { shared, fresh, config }) => await layout.manifest(manifestOf(config, [shared, fresh])))
  for (const name of ['bad:-tag', 'bad:a/b', 'UPPER:1', `bad:${'x'.repeat(129)}`]) await assertRefused(t, dir, 'InvalidReferenceError', { as: name })
})

test('a good image beside a bad one: neither is imported', async (t) => {
  const dir = await badLayout(t, async (layout, { shared, fresh, config }) => {
    const good = await layout.manifest(manifestOf(config, [shared, fresh]))
    const bad = await layout.manifest(manifestOf(config, [shared, { ...fresh, size: fresh.size + 1 }]))
    await layout.index([{ descriptor: good, ref: 'a-good' }, { descriptor: bad, ref: 'z-bad' }])
    return undefined
  })
  await assertRefused(t, dir, 'InvalidImageSourceError')
})
