/**
 * Pulling from an upstream registry into the store: Debian's docker-registry on loopback, anonymous and with
 * htpasswd basic auth, and behind a Bearer token front; images pushed with skopeo; digests compared.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import { pullFromRegistry } from '../../../src/registry/upstream/index.ts'
import { Store } from '../../../src/store/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { assertCliError, runCli, tool } from '../../helpers/tools.ts'
import { putGzipImage, putIndex } from './helpers.ts'
import { startDockerRegistry } from './processes.ts'
import { startTokenProxy } from './token-proxy.ts'
import { startProxy } from './proxy.ts'

const USER = { name: 'alice', password: 'correct horse' }

/** An image in a layout of its own, pushed to `registry` with skopeo. */
async function pushed (dir: string, registry: string, creds?: string): Promise<Awaited<ReturnType<typeof putGzipImage>>> {
  const source = await Store.open(join(dir, 'source'))
  const image = await putGzipImage(source, 'app/web:1.0', [randomBytes(200_000), randomBytes(3_000)])
  await tool('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...(creds !== undefined ? ['--dest-creds', creds] : []), `oci:${join(dir, 'source')}:app/web:1.0`, `docker://${registry}/app/web:1.0`])
  return image
}

async function emptyStore (t: TestContext): Promise<Store> {
  return await Store.open(join(await tempDir(t, 'emergence-upstream-'), 'oci'))
}

async function blobCount (store: Store): Promise<number> {
  let count = 0
  for await (const _ of store.blobs.list()) count++
  return count
}

test('an anonymous registry: the image comes in verified under host/name:tag, digests equal; again fetches nothing', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'))
  const image = await pushed(dir, registry)
  const store = await emptyStore(t)
  const result = await pullFromRegistry(store, `docker://${registry}/app/web:1.0`, { plainHttp: true })
  assert.equal(result.ref, `${registry}/app/web:1.0`)
  assert.equal(result.descriptor.digest, image.manifest.digest)
  assert.equal((await store.refs.get(result.ref))?.digest, image.manifest.digest)
  for (const blob of image.blobs) assert.equal(await store.blobs.has(blob.digest), true)
  assert.deepEqual([...result.blobs].sort(), image.blobs.map(b => b.digest).sort())
  const again = await pullFromRegistry(store, `docker://${registry}/app/web:1.0`, { plainHttp: true, tagAs: 'app/web:1.0' })
  assert.equal(again.fetchedBytes, 0)
  assert.equal((await store.verify()).corrupt.length, 0)
})

test('Docker schema 2 media types (skopeo --format v2s2) come in as the registry serves them', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'))
  const source = await Store.open(join(dir, 'source'))
  await putGzipImage(source, 'app/web:1.0', [randomBytes(10_000)])
  await tool('skopeo', ['copy', '--quiet', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:app/web:1.0`, `docker://${registry}/app/web:1.0`])
  const inspected = JSON.parse(await tool('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry}/app/web:1.0`])) as { mediaType: string }
  assert.equal(inspected.mediaType, MEDIA_TYPE.dockerManifest)
  const store = await emptyStore(t)
  const result = await pullFromRegistry(store, `docker://${registry}/app/web:1.0`, { plainHttp: true })
  assert.equal(result.descriptor.mediaType, MEDIA_TYPE.dockerManifest)
  const digest = (await tool('skopeo', ['inspect', '--format', '{{.Digest}}', '--tls-verify=false', `docker://${registry}/app/web:1.0`])).trim()
  assert.equal(result.descriptor.digest, digest)
  assert.equal((await store.verify()).corrupt.length, 0)
})

test('an index: only the wanted platform\'s manifest and blobs are fetched; the ref names the index', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'))
  const source = await Store.open(join(dir, 'source'))
  const amd = await putGzipImage(source, 'app/multi:amd64', [randomBytes(1000)])
  const arm = await putGzipImage(source, 'app/multi:arm64', [randomBytes(1000)])
  const index = await putIndex(source, 'app/multi:1.0', [{ descriptor: amd.manifest, architecture: 'amd64' }, { descriptor: arm.manifest, architecture: 'arm64' }])
  await tool('skopeo', ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:app/multi:1.0`, `docker://${registry}/app/multi:1.0`])
  const store = await emptyStore(t)
  const result = await pullFromRegistry(store, `docker://${registry}/app/multi:1.0`, { plainHttp: true, platform: { os: 'linux', architecture: 'arm64' } })
  assert.equal(result.descriptor.digest, index.digest)
  assert.equal(result.manifest.digest, arm.manifest.digest)
  for (const blob of arm.blobs) assert.equal(await store.blobs.has(blob.digest), true)
  assert.equal(await store.blobs.has(amd.layers[0]?.digest ?? 'sha256:x' as never), false)
})

test('basic auth (htpasswd): a wrong or missing password is one error and nothing stored; the right one pulls', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'), USER)
  const image = await pushed(dir, registry, `${USER.name}:${USER.password}`)
  const store = await emptyStore(t)
  const url = `docker://${registry}/app/web:1.0`
  await assert.rejects(pullFromRegistry(store, url, { plainHttp: true, credentials: { username: USER.name, password: 'wrong' } }), { name: 'UpstreamAuthError' })
  await assert.rejects(pullFromRegistry(store, url, { plainHttp: true }), { name: 'UpstreamAuthError' })
  assert.deepEqual(await store.refs.list(), [])
  assert.equal(await blobCount(store), 0)
  const result = await pullFromRegistry(store, url, { plainHttp: true, credentials: { username: USER.name, password: USER.password } })
  assert.equal(result.descriptor.digest, image.manifest.digest)
})

test('bearer tokens from the WWW-Authenticate challenge, with the credentials as Basic auth to the realm', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'))
  const image = await pushed(dir, registry)
  const front = await startTokenProxy(t, registry, USER)
  const store = await emptyStore(t)
  const url = `docker://${front.host}/app/web:1.0`
  await assert.rejects(pullFromRegistry(store, url, { plainHttp: true, credentials: { username: USER.name, password: 'wrong' } }), { name: 'UpstreamAuthError' })
  const result = await pullFromRegistry(store, url, { plainHttp: true, credentials: { username: USER.name, password: USER.password } })
  assert.equal(result.descriptor.digest, image.manifest.digest)
  // One token for the whole pull, not one per request.
  assert.equal(front.tokenRequests, 2)
})

test('a blob download cut off halfway resumes with Range where it stopped; the whole is verified', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'))
  const image = await pushed(dir, registry)
  // Breaks every blob at 100_000 bytes: the 200 kB layer (random bytes: its gzip is no smaller) breaks once and resumes.
  const flaky = await startProxy(t, registry, { cutAt: 100_000 })
  const store = await emptyStore(t)
  const result = await pullFromRegistry(store, `docker://${flaky.host}/app/web:1.0`, { plainHttp: true })
  assert.equal(result.descriptor.digest, image.manifest.digest)
  assert.equal(flaky.cuts, 1)
  assert.ok(flaky.ranges.includes('bytes=100000-'), flaky.ranges.join(', '))
  for (const blob of image.blobs) assert.equal(await store.blobs.has(blob.digest), true)
  assert.equal((await store.verify()).corrupt.length, 0)
})

test('`image pull docker://...`: credentials from flags or a docker config.json; a wrong password is one line', async t => {
  const dir = await tempDir(t, 'emergence-upstream-')
  const registry = await startDockerRegistry(t, join(dir, 'registry'), USER)
  const image = await pushed(dir, registry, `${USER.name}:${USER.password}`)
  const dataDir = join(dir, 'data')
  const url = `docker://${registry}/app/web:1.0`
  const wrong = assertCliError(await runCli(['image', 'pull', url, '--plain-http', '--username', USER.name, '--password', 'nope'], { dataDir }))
  assert.match(wrong, /authentication failed/)
  const authfile = join(dir, 'config.json')
  await writeFile(authfile, JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${USER.name}:${USER.password}`).toString('base64') } } }))
  const pulled = await runCli(['--json', 'image', 'pull', url, '--plain-http', '--authfile', authfile, '--tag', 'app/web:1.0'], { dataDir })
  assert.equal(pulled.code, 0, pulled.stderr)
  assert.equal((JSON.parse(pulled.stdout) as { descriptor: { digest: string } }).descriptor.digest, image.manifest.digest)
  const listed = await runCli(['--json', 'image', 'ls'], { dataDir })
  assert.match(listed.stdout, /app\/web:1\.0/)
})
