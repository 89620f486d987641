/**
 * Many concurrent pulls on one node, as separate `emergence pull` processes on a network-namespace host: several
 * of the same image (by tag and by digest) and of different images at once. Every pull succeeds, the shared
 * blobs are fetched once, and every node's store verifies with every image intact. Needs root (namespaces).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { NodeStatus } from '../../../src/daemon/daemon.ts'
import { fileFixture } from '../../helpers/temp.ts'
import { assertAllIntact, buildImages, startSwarm } from './images.ts'
import { Lab, control } from './lab.ts'

const PFX = 'embfc'
const images = fileFixture(async dir => await buildImages(dir, { x: 16, y: 4, z: 4 }), 'emergence-faults-')

test('many concurrent pulls of the same and of different images on one node all complete, each blob fetched once', async t => {
  const { x, y, z } = await images()
  const lab = await Lab.open(t, PFX, 3)
  const { seeds, puller } = await startSwarm(lab, [x, y, z])
  // 2 x 50 mbit: x takes over a second, so the pulls overlap rather than find the blobs already in.
  for (const seed of seeds) await lab.shape(seed.host, { up: '50mbit' })
  const byDigest = `${x.ref.split(':')[0] ?? ''}@${x.digest}`
  const refs = [x.ref, x.ref, x.ref, byDigest, y.ref, y.ref, z.ref, z.ref]
  const started = Date.now()
  const runs = await Promise.all(refs.map(async ref => ({ ref, run: await puller.cli(['pull', ref], { json: true }) })))
  t.diagnostic(`${refs.length} pulls in ${Date.now() - started} ms`)
  const want = new Map([[x.ref, x.digest], [byDigest, x.digest], [y.ref, y.digest], [z.ref, z.digest]])
  for (const { ref, run } of runs) {
    assert.equal(run.status, 0, `${ref}: ${run.stderr}`)
    assert.equal((JSON.parse(run.stdout) as { descriptor: { digest: string } }).descriptor.digest, want.get(ref), ref)
  }
  // The busybox layer is shared by the three images and x is pulled four times: distinct bytes (y's and z's
  // manifests and configs are under 4 KiB each) are fetched once, endgame duplicates aside, not once per pull.
  const distinct = x.bytes + y.layer.size + z.layer.size + 2 * 4096
  const received = (await control<NodeStatus>(puller, '/v1/status')).receivedBytes
  t.diagnostic(`received ${received} bytes for ${distinct} distinct`)
  assert.ok(received <= distinct * 1.5, `received ${received} bytes for ${distinct} distinct`)
  await assertAllIntact([...seeds, puller], [x, y, z])
})
