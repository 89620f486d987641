/** Real libp2p nodes on 127.0.0.1 for the p2p integration tests, torn down after each test. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { digestOf, type Digest } from '../../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../../src/oci/media-types.ts'
import type { Descriptor } from '../../../src/oci/types.ts'
import { Store } from '../../../src/store/store.ts'
import { P2P, type P2PInit } from '../../../src/p2p/index.ts'

export const PIECE = 64 * 1024

export async function tempDir (t: TestContext, prefix = 'emergence-p2p-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

export interface Peer {
  p2p: P2P
  store: Store
  dir: string
}

/** A node with its own store on a free loopback port; small pieces and short timeouts for tests. */
export async function startPeer (t: TestContext, options: Partial<P2PInit> & { dir?: string } = {}): Promise<Peer> {
  const dir = options.dir ?? await tempDir(t)
  const store = options.store ?? await Store.open(join(dir, 'oci'))
  const { exchange, puller, ...rest } = options
  const p2p = await P2P.create({
    identityDir: join(dir, 'p2p'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...rest,
    store,
    exchange: { pieceSize: PIECE, pieceTimeoutMs: 3_000, requestTimeoutMs: 3_000, ...exchange },
    puller: { noProvidersTimeoutMs: 5_000, rediscoverMs: 200, pollMs: 50, stateSaveMs: 50, ...puller }
  })
  t.after(async () => { await p2p.stop() })
  return { p2p, store, dir }
}

export async function connect (a: Peer, b: Peer): Promise<void> {
  const addr = b.p2p.addresses[0]
  if (addr === undefined) throw new Error('peer has no address')
  await a.p2p.dial(addr)
}

export function randomBlob (size: number): { bytes: Buffer, digest: Digest } {
  const bytes = randomBytes(size)
  return { bytes, digest: digestOf(bytes) }
}

export async function putBlob (store: Store, bytes: Uint8Array): Promise<Descriptor> {
  const digest = digestOf(bytes)
  await store.blobs.write(digest, [bytes], { size: bytes.byteLength })
  return { mediaType: 'application/octet-stream', digest, size: bytes.byteLength }
}

/** Writes a single-platform image (config + layers + manifest) and tags it; returns the manifest descriptor. */
export async function putImage (store: Store, ref: string, layers: Uint8Array[]): Promise<{ manifest: Descriptor, blobs: Descriptor[], bytes: number }> {
  const layerDescs = await Promise.all(layers.map(async l => ({ ...await putBlob(store, l), mediaType: MEDIA_TYPE.ociLayer })))
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layerDescs.map(d => d.digest) }
  }))
  const configDesc = { ...await putBlob(store, config), mediaType: MEDIA_TYPE.ociConfig }
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: configDesc, layers: layerDescs }))
  const manifest = { ...await putBlob(store, manifestBytes), mediaType: MEDIA_TYPE.ociManifest }
  await store.refs.set(ref, manifest)
  const blobs = [manifest, configDesc, ...layerDescs]
  return { manifest, blobs, bytes: blobs.reduce((s, d) => s + d.size, 0) }
}

/**
 * Waits until `condition` holds, checking it every few milliseconds; no deadline of its own, so a condition that
 * never comes fails by the test's timeout rather than by a guess at how long things take.
 */
export async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise(resolve => setTimeout(resolve, 10))
}
