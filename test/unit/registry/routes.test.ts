import { test } from 'node:test'
import assert from 'node:assert/strict'
import { acceptedTypes, accepts } from '../../../src/registry/accept.ts'
import { parseRange } from '../../../src/registry/range.ts'
import { candidateNames, originOf, parseRoute } from '../../../src/registry/routes.ts'
import { parseUpstream } from '../../../src/registry/upstream-address.ts'

const DIGEST = `sha256:${'a'.repeat(64)}`

test('routes: base, manifests by tag and digest, blobs, tags list, with ns', () => {
  assert.deepEqual(parseRoute('/v2/'), { kind: 'base' })
  assert.deepEqual(parseRoute('/v2'), { kind: 'base' })
  assert.deepEqual(parseRoute('/v2/app/web/manifests/1.0'), { kind: 'manifest', name: 'app/web', reference: { tag: '1.0' } })
  assert.deepEqual(parseRoute(`/v2/library/busybox/manifests/${DIGEST}?ns=docker.io`), { kind: 'manifest', name: 'library/busybox', reference: { digest: DIGEST }, ns: 'docker.io' })
  assert.deepEqual(parseRoute(`/v2/a/blobs/${DIGEST}`), { kind: 'blob', name: 'a', digest: DIGEST })
  assert.deepEqual(parseRoute('/v2/a/b/tags/list?n=2&last=x'), { kind: 'tags', name: 'a/b', n: 2, last: 'x' })
})

test('routes: invalid parts are typed errors with OCI codes', () => {
  const cases: Array<[string, string, string]> = [
    ['/v2/UPPER/manifests/1', 'NameInvalidError', 'NAME_INVALID'],
    ['/v2/a/blobs/sha256:abc', 'DigestInvalidError', 'DIGEST_INVALID'],
    ['/v2/a/manifests/sha256:abc', 'DigestInvalidError', 'DIGEST_INVALID'],
    ['/v2/a/manifests/-bad', 'ManifestUnknownError', 'MANIFEST_UNKNOWN'],
    ['/v2/a/uploads/', 'RouteNotFoundError', 'NAME_UNKNOWN'],
    ['/nix-cache-info', 'RouteNotFoundError', 'NAME_UNKNOWN']
  ]
  for (const [path, name, code] of cases) assert.throws(() => parseRoute(path), { name, code }, path)
})

test('candidate names: as asked, with the ns host, without a host, without library/', () => {
  assert.deepEqual(candidateNames('app/web'), ['app/web'])
  assert.deepEqual(candidateNames('library/busybox', 'docker.io'), ['library/busybox', 'docker.io/library/busybox', 'busybox'])
  assert.deepEqual(candidateNames('app', 'registry.example:5000'), ['app', 'registry.example:5000/app'])
  assert.deepEqual(candidateNames('docker.io/library/busybox'), ['docker.io/library/busybox', 'library/busybox'])
})

test('range: the forms clients send, ignored when not understood, 416 outside the blob', () => {
  assert.equal(parseRange(undefined, 10), undefined)
  assert.deepEqual(parseRange('bytes=2-5', 10), { start: 2, end: 6 })
  assert.deepEqual(parseRange('bytes=4-', 10), { start: 4, end: 10 })
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 10 })
  assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 10 })
  assert.equal(parseRange('bytes=1-2,4-5', 10), undefined)
  assert.equal(parseRange('items=1-2', 10), undefined)
  assert.equal(parseRange('bytes=5-2', 10), undefined)
  assert.throws(() => parseRange('bytes=10-', 10), { name: 'RangeNotSatisfiableError', status: 416, size: 10 })
  assert.throws(() => parseRange('bytes=-0', 10), { name: 'RangeNotSatisfiableError' })
})

test('accept: listed types, wildcards, none means anything', () => {
  const list = acceptedTypes(['application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json;q=0.9', 'application/json'])
  assert.deepEqual(list, ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/json'])
  assert.equal(accepts(list, 'application/vnd.oci.image.manifest.v1+json'), true)
  assert.equal(accepts(list, 'application/vnd.oci.image.index.v1+json'), false)
  assert.equal(accepts([], 'application/vnd.oci.image.index.v1+json'), true)
  assert.equal(accepts(['*/*'], 'application/vnd.oci.image.index.v1+json'), true)
})

test('origin: containerd\'s ns, else a host at the front of the name; upstreams as configured', () => {
  assert.deepEqual(originOf('library/busybox', 'docker.io'), { registry: 'docker.io', repository: 'library/busybox' })
  assert.deepEqual(originOf('127.0.0.1:5000/app/web'), { registry: '127.0.0.1:5000', repository: 'app/web' })
  assert.equal(originOf('app/web'), undefined)
  assert.deepEqual(parseUpstream('docker.io'), { registry: 'docker.io', apiHost: 'registry-1.docker.io', plainHttp: false })
  assert.deepEqual(parseUpstream('http://127.0.0.1:5000'), { registry: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', plainHttp: true })
  assert.throws(() => parseUpstream('ftp://x'), { name: 'InvalidUpstreamError' })
})
