import { test } from 'node:test'
import assert from 'node:assert/strict'
import { walkImage, sniffMediaType, childrenOf } from '../../../src/oci/walk.ts'
import { digestOf, type Digest } from '../../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import type { Descriptor } from '../../../src/oci/types.ts'

/** An in-memory blob graph: documents by digest, and a reader that records what it was asked for. */
class Graph {
  readonly blobs = new Map<Digest, Buffer>()
  readonly reads: Digest[] = []

  put (value: unknown, mediaType: string): Descriptor {
    const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))
    const digest = digestOf(bytes)
    this.blobs.set(digest, bytes)
    return { mediaType, digest, size: bytes.byteLength }
  }

  read = async (d: Descriptor): Promise<Uint8Array> => {
    this.reads.push(d.digest)
    const bytes = this.blobs.get(d.digest)
    if (bytes === undefined) throw Object.assign(new Error(`missing ${d.digest}`), { name: 'BlobNotFoundError' })
    return bytes
  }
}

function image (g: Graph, tag: string, extraLayers: Descriptor[] = [], subject?: Descriptor): { manifest: Descriptor, config: Descriptor, layer: Descriptor } {
  const config = g.put({ rootfs: { type: 'layers', diff_ids: [] }, tag }, MEDIA_TYPE.ociConfig)
  const layer = g.put(`layer of ${tag}`, MEDIA_TYPE.ociLayerGzip)
  const manifest = g.put({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers: [layer, ...extraLayers], ...(subject !== undefined ? { subject } : {}) }, MEDIA_TYPE.ociManifest)
  return { manifest, config, layer }
}

test('walks nested indexes down to configs and layers, parents first, each digest once', async () => {
  const g = new Graph()
  const amd = image(g, 'amd64')
  const arm = image(g, 'arm64')
  const inner = g.put({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [arm.manifest, amd.manifest] }, MEDIA_TYPE.ociIndex)
  const outer = g.put({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [amd.manifest, inner] }, MEDIA_TYPE.ociIndex)
  const order: Digest[] = []
  const parents = new Map<Digest, Digest | undefined>()
  const seen = await walkImage([outer], g.read, { visit: (d, parent) => { order.push(d.digest); parents.set(d.digest, parent?.digest) } })
  assert.deepEqual(order, [outer.digest, amd.manifest.digest, amd.config.digest, amd.layer.digest, inner.digest, arm.manifest.digest, arm.config.digest, arm.layer.digest])
  assert.deepEqual([...seen].sort(), [...order].sort())
  assert.equal(parents.get(inner.digest), outer.digest)
  assert.equal(parents.get(arm.layer.digest), arm.manifest.digest)
  // Only indexes and manifests are read, and each once.
  assert.deepEqual(g.reads.sort(), [outer.digest, amd.manifest.digest, inner.digest, arm.manifest.digest].sort())
})

test('follows a manifest subject', async () => {
  const g = new Graph()
  const base = image(g, 'base')
  const sbom = image(g, 'sbom', [], base.manifest)
  const seen = await walkImage([sbom.manifest], g.read)
  for (const d of [base.manifest, base.config, base.layer, sbom.config, sbom.layer]) assert.ok(seen.has(d.digest), d.digest)
})

test('follows an index subject', async () => {
  const g = new Graph()
  const base = image(g, 'base')
  const referrer = g.put({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [], subject: base.manifest }, MEDIA_TYPE.ociIndex)
  assert.ok((await walkImage([referrer], g.read)).has(base.layer.digest))
})

test('treats unknown media types as leaves that are never read', async () => {
  const g = new Graph()
  const opaque: Descriptor = { mediaType: 'application/vnd.example.thing+json', digest: digestOf('not in the graph'), size: 16 }
  const signature = g.put({ schemaVersion: 2, manifests: 'looks like an index but is not one' }, 'application/vnd.dev.cosign.simplesigning.v1+json')
  const img = image(g, 'x', [opaque, signature])
  const seen = await walkImage([img.manifest], g.read)
  assert.ok(seen.has(opaque.digest))
  assert.ok(seen.has(signature.digest))
  assert.equal(g.reads.includes(opaque.digest), false)
  assert.equal(g.reads.includes(signature.digest), false)
  assert.deepEqual(g.reads, [img.manifest.digest])
})

test('visit returning false skips the children', async () => {
  const g = new Graph()
  const img = image(g, 'x')
  const seen = await walkImage([img.manifest], g.read, { visit: () => false })
  assert.deepEqual([...seen], [img.manifest.digest])
  assert.deepEqual(g.reads, [])
})

test('a missing child throws unless onMissing says skip', async () => {
  const g = new Graph()
  const img = image(g, 'x')
  const missing = { mediaType: MEDIA_TYPE.ociManifest, digest: digestOf('gone'), size: 4 }
  const index = g.put({ schemaVersion: 2, manifests: [missing, img.manifest] }, MEDIA_TYPE.ociIndex)
  await assert.rejects(walkImage([index], g.read), { name: 'BlobNotFoundError' })
  const skipped: Digest[] = []
  const seen = await walkImage([index], g.read, { onMissing: d => { skipped.push(d.digest); return 'skip' } })
  assert.deepEqual(skipped, [missing.digest])
  assert.ok(seen.has(img.layer.digest))
})

test('a malformed child manifest is an InvalidManifestError naming it', async () => {
  const g = new Graph()
  const broken = g.put('{"schemaVersion":2,"config":', MEDIA_TYPE.ociManifest)
  const badDigest = g.put({ schemaVersion: 2, config: { mediaType: MEDIA_TYPE.ociConfig, digest: 'sha256:../../x', size: 1 }, layers: [] }, MEDIA_TYPE.ociManifest)
  for (const root of [broken, badDigest]) {
    await assert.rejects(walkImage([root], g.read), (err: Error) => err.name === 'InvalidManifestError' && err.message.includes(root.digest))
  }
})

test('a Docker manifest list and manifest are walked like OCI ones', async () => {
  const g = new Graph()
  const config = g.put({ rootfs: { type: 'layers', diff_ids: [] } }, MEDIA_TYPE.dockerConfig)
  const layer = g.put('docker layer', MEDIA_TYPE.dockerLayerGzip)
  const manifest = g.put({ schemaVersion: 2, mediaType: MEDIA_TYPE.dockerManifest, config, layers: [layer] }, MEDIA_TYPE.dockerManifest)
  const list = g.put({ schemaVersion: 2, mediaType: MEDIA_TYPE.dockerManifestList, manifests: [manifest] }, MEDIA_TYPE.dockerManifestList)
  assert.deepEqual([...await walkImage([list], g.read)], [list.digest, manifest.digest, config.digest, layer.digest])
})

test('sniffs whether untyped JSON is an index or a manifest', () => {
  assert.equal(sniffMediaType(Buffer.from('{"manifests":[]}')), MEDIA_TYPE.ociIndex)
  assert.equal(sniffMediaType(Buffer.from('{"config":{},"layers":[]}')), MEDIA_TYPE.ociManifest)
  assert.equal(sniffMediaType(Buffer.from(`{"mediaType":"${MEDIA_TYPE.dockerManifest}"}`)), MEDIA_TYPE.dockerManifest)
  assert.equal(sniffMediaType(Buffer.from('{"architecture":"amd64"}')), undefined)
  assert.equal(sniffMediaType(Buffer.from('null')), undefined)
  assert.throws(() => sniffMediaType(Buffer.from('not json')), { name: 'InvalidManifestError' })
})

test('childrenOf lists config, layers and subject in order', () => {
  const g = new Graph()
  const base = image(g, 'base')
  const img = image(g, 'x', [], base.manifest)
  const bytes = g.blobs.get(img.manifest.digest) ?? Buffer.alloc(0)
  assert.deepEqual(childrenOf(img.manifest, bytes).map(d => d.digest), [img.config.digest, img.layer.digest, base.manifest.digest])
  assert.deepEqual(childrenOf(img.layer, Buffer.from('anything')), [])
})
