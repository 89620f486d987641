/**
 * The mirror of a node with peers (real libp2p nodes on loopback): what the node lacks comes from peers,
 * verified, and tags only from trusted peers; what nobody holds is a 404 so that clients fall back.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { p2pFetcher } from '../../../src/registry/index.ts'
import { connect, startPeer, tempDir, type Peer } from '../p2p/helpers.ts'
import { get, putGzipImage, skopeoCopy, startMirror } from './helpers.ts'

async function mirrorOf (t: Parameters<typeof startPeer>[0], peer: Peer): Promise<Awaited<ReturnType<typeof startMirror>>> {
  return await startMirror(t, peer.store, p2pFetcher(peer.p2p))
}

test('a node holding part of an image serves all of it: the rest comes from a peer, digests equal', async t => {
  const seed = await startPeer(t)
  const image = await putGzipImage(seed.store, 'app/web:1.0', [randomBytes(400_000), randomBytes(150_000)])
  const node = await startPeer(t, { trustedPeers: [seed.p2p.peerId.toString()] })
  await connect(node, seed)
  // The node has the manifest, the config and the first layer; the second layer only the seed has.
  const [manifest, config, first, second] = image.blobs
  assert.ok(manifest !== undefined && config !== undefined && first !== undefined && second !== undefined)
  for (const blob of [manifest, config, first]) {
    await node.store.blobs.write(blob.digest, [await seed.store.blobs.readBytes(blob.digest)], { size: blob.size })
  }
  await node.store.refs.set('app/web:1.0', image.manifest)
  assert.equal(await node.store.blobs.has(second.digest), false)
  const mirror = await mirrorOf(t, node)
  const copied = await skopeoCopy(mirror, 'app/web:1.0', join(await tempDir(t), 'copy'))
  assert.equal(copied.manifest, image.manifest.digest)
  assert.deepEqual(copied.blobs, image.blobs.map(b => b.digest).sort())
  // Fetched, verified and kept in the store (unreferenced: the mirror writes no ref).
  assert.equal(await node.store.blobs.has(second.digest), true)
  assert.deepEqual((await node.store.refs.list()).map(e => e.ref), ['app/web:1.0'])
  assert.ok((node.p2p.counters().received[seed.p2p.peerId.toString()] ?? 0) >= second.size)
})

test('a node holding nothing serves a tag its trusted peer resolves, and every blob from peers', async t => {
  const seed = await startPeer(t)
  const image = await putGzipImage(seed.store, 'app/web:1.0', [randomBytes(200_000)])
  const node = await startPeer(t, { trustedPeers: [seed.p2p.peerId.toString()] })
  await connect(node, seed)
  const mirror = await mirrorOf(t, node)
  const copied = await skopeoCopy(mirror, 'app/web:1.0', join(await tempDir(t), 'copy'))
  assert.equal(copied.manifest, image.manifest.digest)
  assert.deepEqual(copied.blobs, image.blobs.map(b => b.digest).sort())
  // Range on a blob fetched from a peer.
  const layer = image.layers[0]
  assert.ok(layer !== undefined)
  const part = await get(`${mirror.url}/v2/app/web/blobs/${layer.digest}`, { headers: { range: 'bytes=1000-1999' } })
  assert.equal(part.status, 206)
  assert.deepEqual(part.body, Buffer.from(await seed.store.blobs.readBytes(layer.digest)).subarray(1000, 2000))
})

test('tags come only from trusted peers; digests from anyone; what nobody holds is a 404', async t => {
  const stranger = await startPeer(t)
  const image = await putGzipImage(stranger.store, 'app/web:1.0', [randomBytes(100_000)])
  // Trusts some other peer, not the stranger that holds the tag.
  const node = await startPeer(t, { trustedPeers: ['12D3KooWNFWaMyLxcPSyz517pyoXCdoX67oJvGAugcAEP3sf6EYh'] })
  await connect(node, stranger)
  const mirror = await mirrorOf(t, node)
  const byTag = await get(`${mirror.url}/v2/app/web/manifests/1.0`, { method: 'GET' })
  assert.equal(byTag.status, 404)
  assert.equal((JSON.parse(byTag.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'MANIFEST_UNKNOWN')
  const copied = await skopeoCopy(mirror, `app/web@${image.manifest.digest}`, join(await tempDir(t), 'copy'))
  assert.equal(copied.manifest, image.manifest.digest)
  const nobody = await get(`${mirror.url}/v2/app/web/blobs/sha256:${'1'.repeat(64)}`)
  assert.equal(nobody.status, 404)
  assert.equal((JSON.parse(nobody.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'BLOB_UNKNOWN')
  const noManifest = await get(`${mirror.url}/v2/app/web/manifests/sha256:${'2'.repeat(64)}`, { method: 'HEAD' })
  assert.equal(noManifest.status, 404)
})
