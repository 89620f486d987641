/**
 * A blob the node lacks and one peer holds is streamed to the mirror's client while the node pulls it: the
 * client has bytes before the blob is in the node's store, the whole body hashes to the digest, and a pull that
 * fails midway cuts the response instead of ending it short. The provider is rate-limited so that the pull
 * lasts; the assertions are on the order of events, not on times.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { Digest } from '../../../src/oci/digest.ts'
import { createRegistryMirror, p2pFetcher, partialBlobs } from '../../../src/registry/index.ts'
import { connect, putBlob, randomBlob, startPeer, type Peer } from '../p2p/helpers.ts'

const SIZE = 32 * 1024 * 1024

/** A 32 MiB blob on a seed that uploads `rate` bytes/s, a node connected to it, and the node's mirror. */
async function setup (t: TestContext, rate: number): Promise<{ seed: Peer, node: Peer, digest: Digest, response: Response }> {
  const seed = await startPeer(t, { uploadRate: rate })
  const blob = randomBlob(SIZE)
  await putBlob(seed.store, blob.bytes)
  const node = await startPeer(t)
  await connect(node, seed)
  const mirror = await createRegistryMirror({ store: node.store, fetcher: p2pFetcher(node.p2p), growing: partialBlobs(node.p2p) }, { host: '127.0.0.1', port: 0 })
  t.after(async () => { await mirror.close() })
  const response = await fetch(`${mirror.url}/v2/app/web/blobs/${blob.digest}`)
  assert.equal(response.status, 200)
  return { seed, node, digest: blob.digest, response }
}

test('a blob one peer holds reaches the client while the node still pulls it; the body matches the digest', async t => {
  const { node, digest, response } = await setup(t, 8 * 1024 * 1024)
  assert.equal(response.headers.get('content-length'), String(SIZE))
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const first = await reader.read()
  assert.ok(first.value !== undefined && first.value.byteLength > 0)
  // The first bytes are here and the blob is not yet in the node's store: its pull is still going on.
  assert.equal(await node.store.blobs.has(digest), false)
  assert.equal((await node.p2p.exchange.holdings.lookup(digest))?.complete, false)

  const hash = createHash('sha256').update(first.value)
  let received = first.value.byteLength
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    hash.update(chunk.value)
    received += chunk.value.byteLength
  }
  assert.equal(received, SIZE)
  assert.equal(`sha256:${hash.digest('hex')}`, digest)
  assert.equal(await node.store.blobs.has(digest), true)
})

test('a pull that fails after the first bytes went out cuts the response: never a short 200', async t => {
  const { seed, node, digest, response } = await setup(t, 2 * 1024 * 1024)
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  let received = (await reader.read()).value?.byteLength ?? 0
  assert.ok(received > 0)
  // The only holder goes away mid-blob: the node's pull gives up, and the client's body must not end cleanly.
  await seed.p2p.stop()
  await assert.rejects(async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value.byteLength
  })
  assert.ok(received < SIZE, `received ${received} of ${SIZE} bytes`)
  assert.equal(await node.store.blobs.has(digest), false)
})
