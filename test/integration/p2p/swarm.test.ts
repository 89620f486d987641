import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, putImage, startPeer } from './helpers.ts'

test('downloaders pulling one image at once from one seed fetch most bytes from each other', async t => {
  const N = 4
  // The seed's link is the bottleneck (as it is for a registry or a first holder): 4 MiB/s up.
  const seed = await startPeer(t, { uploadRate: 4 * 1024 * 1024 })
  const image = await putImage(seed.store, 'swarm/app:1', [randomBytes(1536 * 1024), randomBytes(1024 * 1024), randomBytes(512 * 1024 + 77)])
  // Every downloader knows only the seed; peer exchange and the DHT tell them about each other.
  const downloaders = await Promise.all(Array.from({ length: N }, async () => await startPeer(t, { trustedPeers: [seed.p2p.peerId.toString()] })))
  for (const d of downloaders) await connect(d, seed)
  const results = await Promise.all(downloaders.map(async d => await d.p2p.pullImage('swarm/app:1')))
  for (const [i, d] of downloaders.entries()) {
    assert.equal(results[i]?.descriptor.digest, image.manifest.digest)
    for (const blob of image.blobs) assert.equal(await d.store.blobs.has(blob.digest), true)
  }
  const seedUpload = seed.p2p.counters().servedTotal
  const fromEachOther = downloaders.reduce((sum, d) => sum + d.p2p.counters().servedTotal, 0)
  t.diagnostic(`image ${image.bytes} bytes; seed uploaded ${seedUpload} (${(seedUpload / image.bytes).toFixed(2)}x), downloaders to each other ${fromEachOther}`)
  assert.ok(seedUpload < (N / 2) * image.bytes, `the seed uploaded ${(seedUpload / image.bytes).toFixed(2)}x the image for ${N} downloaders`)
  assert.ok(fromEachOther > seedUpload, 'downloaders traded more than the seed sent')
})
