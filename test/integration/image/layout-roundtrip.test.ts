/**
 * Images built by umoci go into the store and come back out: blobs shared between images are stored once, an
 * export is read by skopeo and unpacked by umoci with blobs byte-identical to the source, and the store itself
 * is an OCI layout that skopeo and umoci read directly. The tests run in order on one store.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { parseDigest } from '../../../src/oci/digest.ts'
import { importLayout } from '../../../src/image/import-layout.ts'
import { exportImage } from '../../../src/image/export.ts'
import { sha256 } from '../../helpers/bytes.ts'
import { blobsOnDisk } from '../../helpers/store.ts'
import { fileFixture } from '../../helpers/temp.ts'
import { tool } from '../../helpers/tools.ts'
import { blobFiles, buildUmociFixture, layoutImageDigests } from '../../helpers/umoci.ts'

const setup = fileFixture(async work => {
  const fixture = await buildUmociFixture(join(work, 'fixture'))
  const store = await Store.open(join(work, 'store'))
  return { work, fixture, store }
})

async function fileHashes (layout: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>()
  for (const hex of await blobFiles(layout)) hashes.set(`sha256:${hex}`, sha256(await readFile(join(layout, 'blobs', 'sha256', hex))))
  return hashes
}

test('imports two umoci images that share layers; each shared blob is stored once', async () => {
  const { fixture, store } = await setup()
  const base = await layoutImageDigests(fixture.layout, 'base')
  const app = await layoutImageDigests(fixture.layout, 'app')
  const shared = [...base].filter(d => app.has(d))
  assert.equal(shared.length, 2, 'the fixture shares its two base layers')

  const [first] = await importLayout(store, fixture.layout, { sourceRef: 'base', as: 'demo/base:1' })
  assert.deepEqual([first?.ref, first?.blobs, first?.newBlobs], ['demo/base:1', base.size, base.size])
  const [second] = await importLayout(store, fixture.layout, { sourceRef: 'app' })
  assert.deepEqual([second?.ref, second?.blobs, second?.newBlobs], ['layout:app', app.size, app.size - shared.length])

  const union = new Set([...base, ...app])
  assert.deepEqual(await blobsOnDisk(store), [...union].sort())
  assert.equal((await blobsOnDisk(store)).length, base.size + app.size - shared.length)
  // Every stored blob is byte-identical to umoci's.
  const source = await fileHashes(fixture.layout)
  for (const [digest, hash] of await fileHashes(store.root)) {
    assert.equal(hash, digest, 'stored under its own digest')
    assert.equal(source.get(digest), hash)
  }
  assert.deepEqual((await tool('umoci', ['ls', '--layout', store.root])).trim().split('\n').sort(), ['demo/base:1', 'layout:app'])
})

test('an exported image is read by skopeo and unpacked by umoci, blobs byte-identical to the source', async () => {
  const { work, fixture, store } = await setup()
  const exported = join(work, 'exported')
  const result = await exportImage(store, 'layout:app', exported)
  assert.equal(result.ref, 'layout:app')
  const app = await layoutImageDigests(fixture.layout, 'app')
  const exportedHashes = await fileHashes(exported)
  assert.deepEqual([...exportedHashes.keys()].sort(), [...app].sort())
  const source = await fileHashes(fixture.layout)
  for (const [digest, hash] of exportedHashes) assert.equal(hash, source.get(digest), digest)

  await tool('skopeo', ['copy', '--quiet', `oci:${exported}:layout:app`, `oci:${join(work, 'copied')}:x`])
  assert.deepEqual((await tool('umoci', ['ls', '--layout', join(work, 'copied')])).trim(), 'x')

  const bundle = join(work, 'bundle')
  await tool('umoci', ['unpack', '--image', `${exported}:layout:app`, bundle])
  assert.equal(await readFile(join(bundle, 'rootfs', 'hello.txt'), 'utf8'), 'hello from the first layer\n')
  assert.equal(await readFile(join(bundle, 'rootfs', 'etc', 'motd'), 'utf8'), 'second layer\n')
  assert.equal(await readFile(join(bundle, 'rootfs', 'app.txt'), 'utf8'), 'third layer, only in app\n')
  const runtime = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process: { cwd: string, args: string[], env: string[] } }
  assert.equal(runtime.process.cwd, '/srv')
  assert.deepEqual(runtime.process.args, ['/bin/sh'])
  assert.ok(runtime.process.env.includes('GREETING=hello'))
})

test('skopeo and umoci read the store directly, by name:tag', async () => {
  const { work, fixture, store } = await setup()
  const out = join(work, 'from-store')
  await tool('skopeo', ['copy', '--quiet', `oci:${store.root}:demo/base:1`, `oci:${out}:y`])
  const base = await layoutImageDigests(fixture.layout, 'base')
  assert.deepEqual(await layoutImageDigests(out, 'y'), base)
  const stat = await tool('umoci', ['stat', '--image', `${store.root}:layout:app`, '--json'])
  const layers = (JSON.parse(stat) as { history: Array<{ layer: { digest: string } | null }> }).history.flatMap(h => h.layer !== null ? [h.layer.digest] : [])
  const app = await layoutImageDigests(fixture.layout, 'app')
  assert.equal(layers.length, 3)
  for (const digest of layers) assert.ok(app.has(parseDigest(digest)), digest)
})

test('after rm and gc the store still reads cleanly in umoci and keeps the shared layers', async () => {
  const { fixture, store } = await setup()
  await store.refs.remove('layout:app')
  const result = await store.gc({ graceMs: 0 })
  const base = await layoutImageDigests(fixture.layout, 'base')
  const app = await layoutImageDigests(fixture.layout, 'app')
  assert.deepEqual(result.removed.map(r => r.digest).sort(), [...app].filter(d => !base.has(d)).sort())
  assert.deepEqual(await blobsOnDisk(store), [...base].sort())
  assert.equal((await tool('umoci', ['ls', '--layout', store.root])).trim(), 'demo/base:1')
  const verify = await store.verify()
  assert.deepEqual([verify.corrupt, verify.missing], [[], []])
})
