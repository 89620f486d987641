/** A registry mirror on a free loopback port, skopeo against it, and images to serve; torn down after each test. */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { digestOf } from '../../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import type { Descriptor } from '../../../src/oci/types.ts'
import { createRegistryMirror, type PeerFetcher, type RegistryMirror } from '../../../src/registry/index.ts'
import { Store } from '../../../src/store/store.ts'
import { tool } from '../../helpers/tools.ts'
import { gzipSync } from 'node:zlib'
import { putBlob } from '../p2p/helpers.ts'
import { randomBytes } from 'node:crypto'
import { startDockerRegistry } from './processes.ts'
import { startProxy, type RegistryProxy } from './proxy.ts'

export async function startMirror (t: TestContext, store: Store, fetcher?: PeerFetcher): Promise<RegistryMirror> {
  const mirror = await createRegistryMirror({ store, ...(fetcher !== undefined ? { fetcher } : {}) }, { host: '127.0.0.1', port: 0, platform: { os: 'linux', architecture: 'amd64' } })
  t.after(async () => { await mirror.close() })
  return mirror
}

/** `skopeo copy` from the mirror into an OCI layout; returns the copied manifest digest and the blobs there. */
export async function skopeoCopy (mirror: Pick<RegistryMirror, 'url'>, image: string, dir: string): Promise<{ manifest: string, blobs: string[] }> {
  const host = mirror.url.replace(/^http:\/\//, '')
  await tool('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/${image}`, `oci:${dir}:copied`])
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] }
  const blobs = (await readdir(join(dir, 'blobs', 'sha256'))).map(h => `sha256:${h}`).sort()
  return { manifest: index.manifests[0]?.digest ?? '', blobs }
}

/**
 * A single-platform image with gzip layers (skopeo keeps compressed layers as they are; uncompressed ones it
 * compresses on the way into an OCI layout, which would change the digests compared).
 */
export async function putGzipImage (store: Store, ref: string, layers: Uint8Array[]): Promise<{ manifest: Descriptor, blobs: Descriptor[], layers: Descriptor[] }> {
  const layerDescs = await Promise.all(layers.map(async l => ({ ...await putBlob(store, gzipSync(l, { level: 1 })), mediaType: MEDIA_TYPE.ociLayerGzip })))
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(l => digestOf(l)) } }))
  const configDesc = { ...await putBlob(store, config), mediaType: MEDIA_TYPE.ociConfig }
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: configDesc, layers: layerDescs }))
  const manifest = { ...await putBlob(store, manifestBytes), mediaType: MEDIA_TYPE.ociManifest }
  await store.refs.set(ref, manifest)
  return { manifest, blobs: [manifest, configDesc, ...layerDescs], layers: layerDescs }
}

/** An image index over `manifests` (amd64 and arm64 entries), tagged `ref`. */
export async function putIndex (store: Store, ref: string, manifests: Array<{ descriptor: Descriptor, architecture: string }>): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: manifests.map(m => ({ ...m.descriptor, platform: { os: 'linux', architecture: m.architecture } }))
  }))
  const descriptor = { ...await putBlob(store, bytes), mediaType: MEDIA_TYPE.ociIndex }
  await store.refs.set(ref, descriptor)
  return descriptor
}

export async function get (url: string, init: { method?: string, headers?: Record<string, string> } = {}): Promise<{ status: number, headers: Headers, body: Buffer }> {
  const response = await fetch(url, { method: init.method ?? 'GET', headers: init.headers ?? {} })
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
}

export function sha256 (bytes: Uint8Array): string {
  return digestOf(bytes)
}

/**
 * An upstream for pull-through tests: Debian's docker-registry holding `app/web:1.0` (two gzip layers, pushed
 * with skopeo from a layout of its own) behind a front that records every request.
 */
export async function startUpstream (t: TestContext, dir: string): Promise<{ front: RegistryProxy, image: Awaited<ReturnType<typeof putGzipImage>> }> {
  const registry = await startDockerRegistry(t, join(dir, 'registry'))
  const source = await Store.open(join(dir, 'source'))
  const image = await putGzipImage(source, 'app/web:1.0', [randomBytes(300_000), randomBytes(100_000)])
  await tool('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:app/web:1.0`, `docker://${registry}/app/web:1.0`])
  return { front: await startProxy(t, registry), image }
}
