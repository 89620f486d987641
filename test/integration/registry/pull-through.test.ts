/**
 * Pull-through: two nodes whose mirrors name the same upstream (Debian's docker-registry behind a recording
 * front). The first node's client gets the image from the upstream through the mirror; the second node's gets the
 * blobs from the first node, so the upstream serves each blob once for the two.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MANIFEST_ACCEPT } from '../../../src/registry/upstream/index.ts'
import { createNodeMirror, parseUpstream, type RegistryMirror } from '../../../src/registry/index.ts'
import { connect, startPeer, tempDir } from '../p2p/helpers.ts'
import { get, sha256, startUpstream } from './helpers.ts'

/** What containerd asks a mirror for one image (`?ns=` names the upstream); checks every digest. */
async function pullLikeContainerd (mirror: RegistryMirror, ns: string, repository: string, tag: string): Promise<string> {
  const manifest = await get(`${mirror.url}/v2/${repository}/manifests/${tag}?ns=${ns}`, { headers: { accept: MANIFEST_ACCEPT } })
  assert.equal(manifest.status, 200, manifest.body.toString())
  const digest = sha256(manifest.body)
  assert.equal(manifest.headers.get('docker-content-digest'), digest)
  const parsed = JSON.parse(manifest.body.toString()) as { config: { digest: string }, layers: Array<{ digest: string }> }
  for (const blob of [parsed.config, ...parsed.layers]) {
    const body = await get(`${mirror.url}/v2/${repository}/blobs/${blob.digest}?ns=${ns}`)
    assert.equal(body.status, 200)
    assert.equal(sha256(body.body), blob.digest)
  }
  return digest
}

test('the first node pulls through from the upstream; the second gets the blobs from the first', async t => {
  const dir = await tempDir(t, 'emergence-pull-through-')
  const { front, image } = await startUpstream(t, dir)
  const upstreams = [parseUpstream(`http://${front.host}`)]

  const first = await startPeer(t)
  const second = await startPeer(t, { trustedPeers: [first.p2p.peerId.toString()] })
  await connect(second, first)
  const mirrors = await Promise.all([first, second].map(async peer => await createNodeMirror(peer.store, peer.p2p, { host: '127.0.0.1', port: 0, upstreams })))
  t.after(async () => { for (const mirror of mirrors) await mirror.close() })

  assert.equal(await pullLikeContainerd(mirrors[0] as RegistryMirror, front.host, 'app/web', '1.0'), image.manifest.digest)
  assert.equal(await pullLikeContainerd(mirrors[1] as RegistryMirror, front.host, 'app/web', '1.0'), image.manifest.digest)

  // Every blob of the image left the upstream once; the second node got them from the first.
  const blobGets = front.requests.filter(r => r.startsWith('GET ') && r.includes('/blobs/'))
  for (const blob of image.blobs.slice(1)) assert.equal(blobGets.filter(r => r.includes(blob.digest)).length, 1, blob.digest)
  const fromFirst = second.p2p.counters().received[first.p2p.peerId.toString()] ?? 0
  assert.ok(fromFirst >= image.blobs.slice(1).reduce((sum, b) => sum + b.size, 0), `received ${fromFirst} bytes from the first node`)
  // A name the upstream does not have is still a 404.
  const missing = await get(`${mirrors[1]?.url ?? ''}/v2/app/none/manifests/1.0?ns=${front.host}`)
  assert.equal(missing.status, 404)
})
