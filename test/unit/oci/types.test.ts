import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_JSON_BYTES, parseDescriptor, parseImageConfig, parseIndex, parseManifest } from '../../../src/oci/types.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'

const D = (c: string): string => `sha256:${c.repeat(64)}`
const config = { mediaType: MEDIA_TYPE.ociConfig, digest: D('1'), size: 10 }
const layer = { mediaType: MEDIA_TYPE.ociLayerGzip, digest: D('2'), size: 20 }
const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers: [layer] }
const index = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [{ mediaType: MEDIA_TYPE.ociManifest, digest: D('3'), size: 30, platform: { os: 'linux', architecture: 'amd64' } }] }
const imageConfig = { architecture: 'amd64', os: 'linux', config: { Env: null, Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [D('4')] } }

const bytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value))

test('parses valid documents, OCI and Docker', () => {
  assert.deepEqual(parseManifest(bytes(manifest)).layers, [layer])
  assert.equal(parseManifest(bytes({ ...manifest, mediaType: MEDIA_TYPE.dockerManifest })).config.digest, D('1'))
  assert.equal(parseManifest(bytes({ ...manifest, mediaType: undefined })).mediaType, undefined)
  assert.equal(parseIndex(bytes(index)).manifests[0]?.platform?.architecture, 'amd64')
  assert.equal(parseIndex(bytes({ ...index, mediaType: MEDIA_TYPE.dockerManifestList })).manifests.length, 1)
  assert.deepEqual(parseImageConfig(bytes(imageConfig)).rootfs.diff_ids, [D('4')])
  assert.equal(parseDescriptor({ ...layer, annotations: { a: 'b' }, urls: ['https://x'] }).annotations?.a, 'b')
})

test('keeps unknown media types in descriptors', () => {
  const weird = { mediaType: 'application/x-unknown', digest: D('5'), size: 1 }
  assert.deepEqual(parseManifest(bytes({ ...manifest, layers: [weird] })).layers, [weird])
})

const badManifests: Array<[string, unknown]> = [
  ['schemaVersion 1', { ...manifest, schemaVersion: 1 }],
  ['no config', { ...manifest, config: undefined }],
  ['no layers', { ...manifest, layers: undefined }],
  ['layers not an array', { ...manifest, layers: layer }],
  ['a descriptor without size', { ...manifest, layers: [{ ...layer, size: undefined }] }],
  ['a negative size', { ...manifest, layers: [{ ...layer, size: -1 }] }],
  ['a fractional size', { ...manifest, layers: [{ ...layer, size: 1.5 }] }],
  ['a size as a string', { ...manifest, layers: [{ ...layer, size: '20' }] }],
  ['an empty media type', { ...manifest, config: { ...config, mediaType: '' } }],
  ['an upper-case digest', { ...manifest, layers: [{ ...layer, digest: D('A') }] }],
  ['a too-short digest', { ...manifest, layers: [{ ...layer, digest: 'sha256:abc' }] }],
  ['a digest with /', { ...manifest, layers: [{ ...layer, digest: `sha256:${'a'.repeat(32)}/${'a'.repeat(31)}` }] }],
  ['a digest with ..', { ...manifest, config: { ...config, digest: 'sha256:../../../../etc/passwd' } }],
  ['an index media type', { ...manifest, mediaType: MEDIA_TYPE.ociIndex }],
  ['a config media type', { ...manifest, mediaType: MEDIA_TYPE.ociConfig }],
  ['annotations that are not strings', { ...manifest, annotations: { a: 1 } }],
  ['null', null],
  ['an array', [manifest]]
]

for (const [why, value] of badManifests) {
  test(`refuses a manifest with ${why}`, () => {
    assert.throws(() => parseManifest(bytes(value)), { name: 'InvalidManifestError', code: 'MANIFEST_INVALID' })
  })
}

test('refuses malformed JSON', () => {
  for (const text of ['', '{', '{"schemaVersion":2,}', 'nul', '\u0000']) {
    assert.throws(() => parseManifest(Buffer.from(text)), { name: 'InvalidManifestError' }, JSON.stringify(text))
    assert.throws(() => parseIndex(Buffer.from(text)), { name: 'InvalidManifestError' })
    assert.throws(() => parseImageConfig(Buffer.from(text)), { name: 'InvalidManifestError' })
  }
})

test('refuses documents over 4 MiB, even valid ones, and accepts one just under', () => {
  const pad = (target: number): Buffer => {
    const base = JSON.stringify({ ...manifest, annotations: { pad: '' } })
    return Buffer.from(base.replace('"pad":""', `"pad":"${'x'.repeat(target - base.length)}"`))
  }
  const over = pad(MAX_JSON_BYTES + 1)
  assert.equal(over.byteLength, MAX_JSON_BYTES + 1)
  assert.equal(MAX_JSON_BYTES, 4 * 1024 * 1024)
  assert.throws(() => parseManifest(over), (err: Error) => err.name === 'InvalidManifestError' && /limit/.test(err.message))
  assert.throws(() => parseIndex(over), { name: 'InvalidManifestError' })
  assert.throws(() => parseImageConfig(over), { name: 'InvalidManifestError' })
  assert.equal(parseManifest(pad(MAX_JSON_BYTES)).config.digest, D('1'))
})

test('refuses malformed indexes', () => {
  for (const value of [
    { ...index, manifests: undefined },
    { ...index, schemaVersion: 3 },
    { ...index, mediaType: MEDIA_TYPE.ociManifest },
    { ...index, manifests: [{ ...config, digest: D('F') }] },
    { ...index, manifests: [{ ...config, platform: { os: 'linux' } }] }
  ]) {
    assert.throws(() => parseIndex(bytes(value)), { name: 'InvalidManifestError' })
  }
})

test('refuses malformed configs', () => {
  for (const value of [
    { ...imageConfig, rootfs: undefined },
    { ...imageConfig, rootfs: { type: 'other', diff_ids: [] } },
    { ...imageConfig, rootfs: { type: 'layers', diff_ids: ['sha256:short'] } },
    { ...imageConfig, config: { Cmd: '/bin/sh' } },
    { ...imageConfig, config: { Labels: { a: 1 } } }
  ]) {
    assert.throws(() => parseImageConfig(bytes(value)), { name: 'InvalidManifestError' })
  }
})

test('the error says where the problem is', () => {
  assert.throws(() => parseManifest(bytes({ ...manifest, layers: [layer, { ...layer, digest: 'sha256:x' }] })), /layers\.1\.digest/)
})
