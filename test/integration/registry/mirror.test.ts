/**
 * The mirror over a store alone (no peers): distribution-spec's pull side as skopeo and curl see it, with the
 * headers, ranges, Accept negotiation and error JSON.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import { Store } from '../../../src/store/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { putImage } from '../p2p/helpers.ts'
import { get, putGzipImage, putIndex, sha256, skopeoCopy, startMirror } from './helpers.ts'

async function setup (t: Parameters<typeof tempDir>[0]): Promise<{ store: Store, dir: string }> {
  const dir = await tempDir(t, 'emergence-registry-')
  return { store: await Store.open(join(dir, 'oci')), dir }
}

test('skopeo copies an image through the mirror: the manifest and every blob are the original\'s', async t => {
  const { store, dir } = await setup(t)
  const image = await putGzipImage(store, 'app/web:1.0', [randomBytes(300_000), randomBytes(5_000)])
  const mirror = await startMirror(t, store)
  const copied = await skopeoCopy(mirror, 'app/web:1.0', join(dir, 'copy'))
  assert.equal(copied.manifest, image.manifest.digest)
  assert.deepEqual(copied.blobs, image.blobs.map(b => b.digest).sort())
  // By digest too.
  const byDigest = await skopeoCopy(mirror, `app/web@${image.manifest.digest}`, join(dir, 'copy2'))
  assert.equal(byDigest.manifest, image.manifest.digest)
})

test('manifests: HEAD and GET by tag and digest with Docker-Content-Digest, Content-Type and Content-Length', async t => {
  const { store } = await setup(t)
  const image = await putImage(store, 'app/web:1.0', [randomBytes(1000)])
  const mirror = await startMirror(t, store)
  assert.equal((await get(`${mirror.url}/v2/`)).status, 200)
  assert.equal((await get(`${mirror.url}/v2/`)).headers.get('docker-distribution-api-version'), 'registry/2.0')
  for (const reference of ['1.0', image.manifest.digest]) {
    const head = await get(`${mirror.url}/v2/app/web/manifests/${reference}`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('docker-content-digest'), image.manifest.digest)
    assert.equal(head.headers.get('content-type'), MEDIA_TYPE.ociManifest)
    assert.equal(head.headers.get('content-length'), String(image.manifest.size))
    assert.equal(head.body.byteLength, 0)
    const body = await get(`${mirror.url}/v2/app/web/manifests/${reference}`, { headers: { accept: MEDIA_TYPE.ociManifest } })
    assert.equal(body.status, 200)
    assert.equal(sha256(body.body), image.manifest.digest)
  }
  // containerd's mirror requests: the upstream host in ns, the name as the upstream knows it.
  await store.refs.set('docker.io/library/busybox:1.36', image.manifest)
  const viaNs = await get(`${mirror.url}/v2/library/busybox/manifests/1.36?ns=docker.io`, { method: 'HEAD' })
  assert.equal(viaNs.headers.get('docker-content-digest'), image.manifest.digest)
})

test('an index goes to clients that accept it; others get the platform\'s manifest, or MANIFEST_UNKNOWN', async t => {
  const { store } = await setup(t)
  const amd = await putImage(store, 'app/multi:amd64', [randomBytes(100)])
  const arm = await putImage(store, 'app/multi:arm64', [randomBytes(100)])
  const index = await putIndex(store, 'app/multi:1.0', [{ descriptor: amd.manifest, architecture: 'amd64' }, { descriptor: arm.manifest, architecture: 'arm64' }])
  const mirror = await startMirror(t, store)
  const url = `${mirror.url}/v2/app/multi/manifests/1.0`
  const both = await get(url, { headers: { accept: `${MEDIA_TYPE.ociIndex}, ${MEDIA_TYPE.ociManifest}` } })
  assert.equal(both.headers.get('docker-content-digest'), index.digest)
  assert.equal(both.headers.get('content-type'), MEDIA_TYPE.ociIndex)
  const manifestOnly = await get(url, { headers: { accept: MEDIA_TYPE.ociManifest } })
  assert.equal(manifestOnly.headers.get('docker-content-digest'), amd.manifest.digest)
  const dockerOnly = await get(url, { headers: { accept: MEDIA_TYPE.dockerManifest } })
  assert.equal(dockerOnly.status, 404)
  assert.equal((JSON.parse(dockerOnly.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'MANIFEST_UNKNOWN')
})

test('blobs: HEAD, GET, Range with 206 and Content-Range, 416 with bytes */size', async t => {
  const { store } = await setup(t)
  const layer = randomBytes(10_000)
  const image = await putImage(store, 'app/web:1.0', [layer])
  const digest = image.blobs.at(-1)?.digest ?? ''
  const mirror = await startMirror(t, store)
  const url = `${mirror.url}/v2/app/web/blobs/${digest}`
  const head = await get(url, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-length'), '10000')
  assert.equal(head.headers.get('docker-content-digest'), digest)
  assert.equal(head.headers.get('accept-ranges'), 'bytes')
  assert.deepEqual((await get(url)).body, layer)
  const part = await get(url, { headers: { range: 'bytes=100-' } })
  assert.equal(part.status, 206)
  assert.equal(part.headers.get('content-range'), 'bytes 100-9999/10000')
  assert.deepEqual(part.body, layer.subarray(100))
  const middle = await get(url, { headers: { range: 'bytes=10-19' } })
  assert.deepEqual(middle.body, layer.subarray(10, 20))
  const outside = await get(url, { headers: { range: 'bytes=10000-' } })
  assert.equal(outside.status, 416)
  assert.equal(outside.headers.get('content-range'), 'bytes */10000')
})

test('tags/list: sorted, paginated with n and last; NAME_UNKNOWN for an unknown repository', async t => {
  const { store } = await setup(t)
  const image = await putImage(store, 'app/web:1.0', [randomBytes(100)])
  await store.refs.setMany([{ ref: 'app/web:2.0', descriptor: image.manifest }, { ref: 'app/web:0.9', descriptor: image.manifest }, { ref: 'app/other:1', descriptor: image.manifest }])
  const mirror = await startMirror(t, store)
  assert.deepEqual(JSON.parse((await get(`${mirror.url}/v2/app/web/tags/list`)).body.toString()), { name: 'app/web', tags: ['0.9', '1.0', '2.0'] })
  const page = await get(`${mirror.url}/v2/app/web/tags/list?n=2`)
  assert.deepEqual(JSON.parse(page.body.toString()), { name: 'app/web', tags: ['0.9', '1.0'] })
  assert.equal(page.headers.get('link'), '</v2/app/web/tags/list?n=2&last=1.0>; rel="next"')
  assert.deepEqual(JSON.parse((await get(`${mirror.url}/v2/app/web/tags/list?n=2&last=1.0`)).body.toString()), { name: 'app/web', tags: ['2.0'] })
  const unknown = await get(`${mirror.url}/v2/nothing/here/tags/list`)
  assert.equal(unknown.status, 404)
  assert.equal((JSON.parse(unknown.body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'NAME_UNKNOWN')
})

test('every error path answers the OCI error JSON', async t => {
  const { store } = await setup(t)
  await putImage(store, 'app/web:1.0', [randomBytes(100)])
  const mirror = await startMirror(t, store)
  const missing = `sha256:${'0'.repeat(64)}`
  const cases: Array<[string, string, number, string]> = [
    ['GET', '/v2/app/web/manifests/2.0', 404, 'MANIFEST_UNKNOWN'],
    ['GET', `/v2/app/web/manifests/${missing}`, 404, 'MANIFEST_UNKNOWN'],
    ['GET', `/v2/app/web/blobs/${missing}`, 404, 'BLOB_UNKNOWN'],
    ['GET', '/v2/app/web/blobs/sha256:12', 400, 'DIGEST_INVALID'],
    ['GET', '/v2/App/manifests/1.0', 400, 'NAME_INVALID'],
    ['GET', '/v2/app/web/nothing', 404, 'NAME_UNKNOWN'],
    ['PUT', '/v2/app/web/manifests/1.0', 405, 'UNSUPPORTED'],
    ['POST', '/v2/app/web/blobs/uploads/', 405, 'UNSUPPORTED'],
    ['DELETE', `/v2/app/web/blobs/${missing}`, 405, 'UNSUPPORTED']
  ]
  for (const [method, path, status, code] of cases) {
    const response = await get(`${mirror.url}${path}`, { method })
    assert.equal(response.status, status, `${method} ${path}`)
    assert.equal(response.headers.get('content-type'), 'application/json')
    const body = JSON.parse(response.body.toString()) as { errors: Array<{ code: string, message: string }> }
    assert.equal(body.errors[0]?.code, code, `${method} ${path}`)
    assert.equal(typeof body.errors[0]?.message, 'string')
  }
  // A HEAD error has the status and no body.
  const head = await get(`${mirror.url}/v2/app/web/manifests/9.9`, { method: 'HEAD' })
  assert.equal(head.status, 404)
  assert.equal(head.body.byteLength, 0)
})
