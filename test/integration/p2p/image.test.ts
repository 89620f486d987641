import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import type { P2PInit, PullProgress } from '../../../src/p2p/index.ts'
import { connect, putBlob, putImage, startPeer, type Peer } from './helpers.ts'

/** A puller that trusts `seed` to resolve tags. */
async function trusting (t: TestContext, seed: Peer, options: Partial<P2PInit> = {}): Promise<Peer> {
  const puller = await startPeer(t, { trustedPeers: [seed.p2p.peerId.toString()], ...options })
  await connect(puller, seed)
  return puller
}

test('an image pulled by tag from a trusted peer: blobs first, the ref last, progress to the end', async t => {
  const seed = await startPeer(t)
  const puller = await trusting(t, seed)
  const image = await putImage(seed.store, 'library/app:1.0', [randomBytes(300_000), randomBytes(200_000)])
  const events: PullProgress[] = []
  const result = await puller.p2p.pullImage('library/app:1.0', { onProgress: p => events.push(p) })
  assert.equal(result.ref, 'library/app:1.0')
  assert.equal(result.descriptor.digest, image.manifest.digest)
  assert.deepEqual(await puller.store.refs.get('library/app:1.0'), { ...image.manifest, annotations: { 'org.opencontainers.image.ref.name': 'library/app:1.0' } })
  for (const blob of image.blobs) assert.equal(await puller.store.blobs.has(blob.digest), true)
  const last = events.at(-1)
  assert.equal(last?.phase, 'done')
  assert.equal(last?.bytesDone, image.bytes)
  assert.equal(last?.bytesTotal, image.bytes)
  assert.equal(last?.blobsDone, image.blobs.length)
  assert.equal(last?.perPeer[seed.p2p.peerId.toString()], image.bytes)
  assert.equal(result.fetchedBytes, image.bytes)
  // Pulling again fetches nothing.
  assert.equal((await puller.p2p.pullImage('library/app:1.0')).fetchedBytes, 0)
})

test('a tag is taken only from trusted peers', async t => {
  const [seed, liar] = await Promise.all([startPeer(t), startPeer(t)])
  const real = await putImage(seed.store, 'library/app:1.0', [randomBytes(1000)])
  await putImage(liar.store, 'library/app:1.0', [randomBytes(1000)])
  const puller = await startPeer(t, { trustedPeers: [seed.p2p.peerId.toString()] })
  await connect(puller, liar)
  await connect(puller, seed)
  const result = await puller.p2p.pullImage('library/app:1.0')
  assert.equal(result.descriptor.digest, real.manifest.digest)

  const lonely = await startPeer(t, { trustedPeers: [seed.p2p.peerId.toString()] })
  await connect(lonely, liar)
  await seed.p2p.stop()
  await assert.rejects(lonely.p2p.pullImage('library/app:1.0'), { name: 'RefNotResolvedError' })
})

test('an image pulled by digest needs no trust and is kept under that digest', async t => {
  const [seed, puller] = await Promise.all([startPeer(t), startPeer(t, { trustedPeers: ['12D3KooWNFWaMyLxcPSyz517pyoXCdoX67oJvGAugcAEP3sf6EYh'] })])
  const image = await putImage(seed.store, 'library/app:1.0', [randomBytes(5000)])
  await connect(puller, seed)
  const result = await puller.p2p.pullImage(`library/app@${image.manifest.digest}`)
  assert.equal(result.ref, `library/app@${image.manifest.digest}`)
  assert.equal(result.descriptor.mediaType, MEDIA_TYPE.ociManifest)
  assert.equal((await puller.store.resolve(`library/app@${image.manifest.digest}`)).descriptor.digest, image.manifest.digest)
})

test('an image pulled by a bare digest is kept by a pin, not under a ref named after the digest', async t => {
  const [seed, puller] = await Promise.all([startPeer(t), startPeer(t)])
  const image = await putImage(seed.store, 'library/app:1.0', [randomBytes(5000)])
  await connect(puller, seed)
  const result = await puller.p2p.pullImage(image.manifest.digest)
  assert.equal(result.ref, image.manifest.digest)
  assert.deepEqual(await puller.store.refs.list(), [])
  assert.deepEqual((await puller.store.pins.list()).map(p => p.digest), [image.manifest.digest])
  assert.equal((await puller.store.resolve(image.manifest.digest)).descriptor.digest, image.manifest.digest)
  // The pin keeps it through gc.
  await puller.store.gc({ graceMs: 0 })
  for (const blob of image.blobs) assert.equal(await puller.store.blobs.has(blob.digest), true)
})

test('from an index only the wanted platform is fetched; the ref names the index', async t => {
  const seed = await startPeer(t)
  const puller = await trusting(t, seed)
  const amd = await putImage(seed.store, 'tmp:amd', [randomBytes(4000)])
  const arm = await putImage(seed.store, 'tmp:arm', [randomBytes(4000)])
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: [
      { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } }
    ]
  }))
  const indexDesc = { ...await putBlob(seed.store, index), mediaType: MEDIA_TYPE.ociIndex }
  await seed.store.refs.set('multi:1', indexDesc)
  const result = await puller.p2p.pullImage('multi:1', { platform: { os: 'linux', architecture: 'arm64' } })
  assert.equal(result.descriptor.digest, indexDesc.digest)
  assert.equal(result.manifest.digest, arm.manifest.digest)
  for (const blob of arm.blobs) assert.equal(await puller.store.blobs.has(blob.digest), true)
  assert.equal(await puller.store.blobs.has(amd.manifest.digest), false)
  assert.equal(await puller.store.blobs.has(amd.blobs.at(-1)?.digest ?? amd.manifest.digest), false)
})

test('when a blob cannot be had, the ref is not written', async t => {
  const seed = await startPeer(t)
  const puller = await trusting(t, seed, { puller: { noProvidersTimeoutMs: 500 } })
  const image = await putImage(seed.store, 'broken:1', [randomBytes(1000), randomBytes(1000)])
  await seed.store.blobs.delete(image.blobs.at(-1)?.digest ?? image.manifest.digest)
  await assert.rejects(puller.p2p.pullImage('broken:1'), { name: 'NoProvidersError' })
  assert.equal(await puller.store.refs.get('broken:1'), undefined)
})

test('a pull never moves a ref the store has to other content unless forced; a held tag is not asked of peers', async t => {
  const seed = await startPeer(t)
  const puller = await trusting(t, seed)
  const theirs = await putImage(seed.store, 'library/app:1.0', [randomBytes(3000)])
  const ours = await putImage(puller.store, 'library/app:1.0', [randomBytes(3000)])
  // The store holds the tag: the pull completes what it names, asks nobody and moves nothing.
  const held = await puller.p2p.pullImage('library/app:1.0')
  assert.equal(held.descriptor.digest, ours.manifest.digest)
  assert.equal(held.fetchedBytes, 0)
  assert.equal((await puller.store.refs.get('library/app:1.0'))?.digest, ours.manifest.digest)
  assert.equal(await puller.store.blobs.has(theirs.manifest.digest), false, 'nothing of theirs fetched')
  // By digest under a taken name: refused, naming what the ref holds.
  await assert.rejects(puller.p2p.pullImage(theirs.manifest.digest, { tagAs: 'library/app:1.0' }), (err: Error & { existing?: string }) => {
    assert.equal(err.name, 'RefExistsError')
    assert.equal(err.existing, ours.manifest.digest)
    assert.match(err.message, new RegExp(`already points at ${ours.manifest.digest}`))
    return true
  })
  assert.equal((await puller.store.refs.get('library/app:1.0'))?.digest, ours.manifest.digest)
  const forced = await puller.p2p.pullImage('library/app:1.0', { force: true })
  assert.equal(forced.descriptor.digest, theirs.manifest.digest)
  assert.equal((await puller.store.refs.get('library/app:1.0'))?.digest, theirs.manifest.digest)
  assert.equal((await puller.p2p.pullImage('library/app:1.0')).fetchedBytes, 0)
})

test('a held tag whose blobs went missing is completed by digest, with no trusted peer', async t => {
  const seed = await startPeer(t)
  const image = await putImage(seed.store, 'library/app:1.0', [randomBytes(4000)])
  const puller = await startPeer(t)
  await puller.store.refs.set('library/app:1.0', image.manifest)
  await connect(puller, seed)
  const result = await puller.p2p.pullImage('library/app:1.0')
  assert.equal(result.descriptor.digest, image.manifest.digest)
  assert.equal(result.fetchedBytes, image.bytes)
  for (const blob of image.blobs) assert.equal(await puller.store.blobs.has(blob.digest), true)
})

test('a node that trusts nobody refuses a tag with a line that says how to configure trust; digests still pull', async t => {
  const seed = await startPeer(t)
  const image = await putImage(seed.store, 'library/app:1.0', [randomBytes(2000)])
  const puller = await startPeer(t)
  await connect(puller, seed)
  await assert.rejects(puller.p2p.pullImage('library/app:1.0'), (err: Error) => {
    assert.equal(err.name, 'UntrustedTagError')
    assert.match(err.message, /--trusted <peer ids>.*trustedPeers:.* in config\.yaml/)
    assert.doesNotMatch(err.message, /\n/)
    return true
  })
  assert.equal(await puller.store.refs.get('library/app:1.0'), undefined)
  assert.equal((await puller.p2p.pullImage(image.manifest.digest)).descriptor.digest, image.manifest.digest)
})

test('with an allow-list and no trusted peers, the allow-listed peers resolve tags', async t => {
  const seed = await startPeer(t)
  const image = await putImage(seed.store, 'library/app:1.0', [randomBytes(2000)])
  const puller = await startPeer(t, { allowList: [seed.p2p.peerId.toString()] })
  await connect(puller, seed)
  assert.equal((await puller.p2p.pullImage('library/app:1.0')).descriptor.digest, image.manifest.digest)
})
