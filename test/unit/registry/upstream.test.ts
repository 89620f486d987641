import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { parseChallenge } from '../../../src/registry/upstream/auth.ts'
import { dockerCredentials } from '../../../src/registry/upstream/credentials.ts'
import { parseImageUrl } from '../../../src/registry/upstream/image-url.ts'
import { tempDir } from '../../helpers/temp.ts'

test('image URLs: a host or Docker Hub, library/ for official images, tag or digest', () => {
  assert.deepEqual(parseImageUrl('docker://busybox:1.36'), { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/busybox', tag: '1.36', storeRef: 'docker.io/library/busybox:1.36' })
  assert.equal(parseImageUrl('docker://docker.io/grafana/grafana').storeRef, 'docker.io/grafana/grafana:latest')
  const local = parseImageUrl(`docker://127.0.0.1:5000/app/web@sha256:${'a'.repeat(64)}`)
  assert.equal(local.apiHost, '127.0.0.1:5000')
  assert.equal(local.repository, 'app/web')
  assert.equal(local.storeRef, `127.0.0.1:5000/app/web@sha256:${'a'.repeat(64)}`)
  assert.throws(() => parseImageUrl('oci:./dir'), { name: 'InvalidImageUrlError' })
  assert.throws(() => parseImageUrl('docker://ghcr.io/App:1'), { name: 'InvalidImageUrlError' })
})

test('challenges: Bearer with quoted parameters, Basic with a realm', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' }
  })
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } })
  assert.deepEqual(parseChallenge('Bearer realm=https://x/token, service=y'), { scheme: 'bearer', params: { realm: 'https://x/token', service: 'y' } })
})

test('docker config.json: auth as base64 user:password, Docker Hub under its v1 key, absent file or entry', async t => {
  const dir = await tempDir(t)
  const path = join(dir, 'config.json')
  const auth = (s: string): string => Buffer.from(s).toString('base64')
  await writeFile(path, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: auth('hub:pw:with:colons') }, 'ghcr.io': { auth: auth('gh:token') } } }))
  assert.deepEqual(await dockerCredentials('docker.io', path), { username: 'hub', password: 'pw:with:colons' })
  assert.deepEqual(await dockerCredentials('ghcr.io', path), { username: 'gh', password: 'token' })
  assert.equal(await dockerCredentials('quay.io', path), undefined)
  assert.equal(await dockerCredentials('ghcr.io', join(dir, 'none.json')), undefined)
  await writeFile(path, 'not json')
  await assert.rejects(dockerCredentials('ghcr.io', path), { name: 'UpstreamAuthError' })
})
