/**
 * Automatic GC benchmark: what a pass costs on a store of ~1000 blobs (100 images of a config, a manifest and 8
 * small layers, a quarter of the layers shared), against `emergence gc` (the store's mark-and-sweep plus the layer
 * GC) on the same store in the same run. Three cases, each the median of several rounds:
 *
 * - the check a node makes every interval when nothing is over a watermark (statfs, list and stat the blobs);
 * - a pass over the size cap that evicts the 10% least recently used images and sweeps their blobs (each round
 *   on a fresh copy of the store);
 * - the baseline: `emergence gc` with nothing to remove.
 *
 *   node scripts/bench/gc.ts [images=100] [rounds=5]
 */
import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runGcPass, type GcPolicy } from '../../src/gc/pass.ts'
import { recordUse } from '../../src/gc/usage.ts'
import { gcLayers } from '../../src/runner/layers/gc.ts'
import { digestOf, type Digest } from '../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../src/oci/media-types.ts'
import type { Descriptor } from '../../src/oci/types.ts'
import { storeRoot } from '../../src/store/paths.ts'
import { Store } from '../../src/store/store.ts'

const images = Number(process.argv[2] ?? 100)
const rounds = Number(process.argv[3] ?? 5)
const LAYERS = 8
const LAYER_BYTES = 16 * 1024

async function put (store: Store, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
  const digest = digestOf(bytes)
  await store.blobs.write(digest, [bytes], { size: bytes.byteLength })
  return { mediaType, digest, size: bytes.byteLength }
}

/** `images` images; layer i of image n is shared with image n-1 when i < 2 (a common base). */
async function fill (dataDir: string): Promise<{ blobs: number, bytes: number }> {
  const store = await Store.open(storeRoot(dataDir))
  const base = [randomBytes(LAYER_BYTES), randomBytes(LAYER_BYTES)]
  const started = Date.now()
  for (let n = 0; n < images; n++) {
    const layers: Descriptor[] = []
    for (let i = 0; i < LAYERS; i++) {
      const bytes = i < 2 && n % 2 === 1 ? (base[i] ?? randomBytes(1)) : randomBytes(LAYER_BYTES)
      layers.push(await put(store, bytes, MEDIA_TYPE.ociLayer))
    }
    const config = await put(store, Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: layers.map(l => l.digest) }, n })), MEDIA_TYPE.ociConfig)
    const manifest = await put(store, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers })), MEDIA_TYPE.ociManifest)
    await store.refs.set(`bench/app${n}:1`, manifest)
    await recordUse(store, [manifest.digest], new Date(started - (images - n) * 60_000))
  }
  // Older than the grace period, as on a node that has run for a while.
  const old = new Date(started - 24 * 3_600_000)
  let blobs = 0
  let bytes = 0
  for await (const digest of store.blobs.list()) {
    await utimes(store.paths.blob(digest), old, old)
    blobs++
    bytes += (await store.blobs.stat(digest as Digest))?.size ?? 0
  }
  return { blobs, bytes }
}

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

const root = await mkdtemp(join(tmpdir(), 'bench-gc-'))
try {
  const seed = join(root, 'seed')
  const { blobs, bytes } = await fill(seed)
  const store = await Store.open(storeRoot(seed))
  const quiet: GcPolicy = { highWatermark: 1, lowWatermark: 1, maxStoreSize: null }
  const capped: GcPolicy = { highWatermark: 1, lowWatermark: 1, maxStoreSize: Math.floor(bytes * 0.9) }
  const check: number[] = []
  const manual: number[] = []
  const evicting: number[] = []
  let evicted = 0
  let removed = 0
  for (let r = 0; r < rounds; r++) {
    manual.push(await timed(async () => { await store.gc(); await gcLayers({ dataDir: seed, store }) }))
    check.push(await timed(async () => await runGcPass({ dataDir: seed, store, policy: quiet })))
    const copy = join(root, `round-${r}`)
    await cp(seed, copy, { recursive: true, preserveTimestamps: true })
    const copied = await Store.open(storeRoot(copy))
    evicting.push(await timed(async () => {
      const report = await runGcPass({ dataDir: copy, store: copied, policy: capped })
      evicted = report.evicted.length
      removed = report.removedBlobs
    }))
    await rm(copy, { recursive: true, force: true })
  }
  const base = median(manual)
  const least = Math.min(...manual)
  const row = (what: string, xs: number[]): string =>
    `| ${what} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)} | ${xs.map(x => x.toFixed(0)).join(', ')} | ${(median(xs) / base).toFixed(2)}x | ${(Math.min(...xs) / least).toFixed(2)}x |`
  console.log(`store: ${images} images, ${blobs} blobs, ${(bytes / 1024 / 1024).toFixed(1)} MiB; ${rounds} rounds`)
  console.log('| what | median ms | fastest ms | runs ms | median vs emergence gc | fastest vs emergence gc |')
  console.log('|---|---|---|---|---|---|')
  console.log(row('emergence gc, nothing to remove (baseline)', manual))
  console.log(row('automatic GC check, under the watermarks', check))
  console.log(row(`automatic GC pass over the cap (evicts ${evicted} images, ${removed} blobs)`, evicting))
} finally {
  await rm(root, { recursive: true, force: true })
}
