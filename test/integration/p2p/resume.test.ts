import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, putBlob, randomBlob, startPeer, tempDir } from './helpers.ts'

test('a pull stopped midway resumes in a new node on the same store without refetching verified pieces', async t => {
  const blob = randomBlob(3 * 1024 * 1024)
  const seed = await startPeer(t, { uploadRate: 2 * 1024 * 1024 })
  await putBlob(seed.store, blob.bytes)
  const dir = await tempDir(t)

  const first = await startPeer(t, { dir })
  await connect(first, seed)
  const controller = new AbortController()
  let got = 0
  const stopped = await first.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, {
    signal: controller.signal,
    onPiece: (_peer, bytes) => {
      got += bytes
      if (got >= 1024 * 1024) controller.abort(new Error('stopped by the test'))
    }
  }).then(() => undefined, (err: unknown) => err)
  assert.match(String(stopped), /stopped by the test/)
  assert.equal(await first.store.blobs.has(blob.digest), false)
  const firstId = first.p2p.peerId.toString()
  await first.p2p.stop()

  const second = await startPeer(t, { dir })
  assert.equal(second.p2p.peerId.toString(), firstId, 'the identity persists in the same directory')
  await connect(second, seed)
  const result = await second.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength })
  assert.deepEqual(Buffer.from(await second.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.ok(result.resumedBytes >= 1024 * 1024, `resumed ${result.resumedBytes} bytes`)
  assert.equal(result.resumedBytes + result.fetchedBytes, blob.bytes.byteLength)
  assert.ok(result.fetchedBytes < blob.bytes.byteLength)
})
