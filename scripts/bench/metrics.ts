/**
 * What the metrics cost (docs/operations.md "Monitoring"): a verified pull of one blob between two nodes, with
 * the metrics off (the baseline) and on (a prom-client registry per node, libp2p's own metrics wrapping every
 * connection and stream), over the data lane and over libp2p streams, alternated in one run; then the time of one
 * `/metrics` scrape of a node whose store holds `--blobs` blobs (the store gauges stat every blob).
 * Both nodes run in this process: CPU-s/GiB is the whole process's user + system time per GiB pulled.
 *
 * Usage: node scripts/bench/metrics.ts [--size 128M|<bytes>] [--runs N] [--blobs N]
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Registry } from 'prom-client'
import { blobSizes } from '../../src/gc/inventory.ts'
import { NodeMetrics, peerClassifier } from '../../src/metrics/index.ts'
import type { Digest } from '../../src/oci/digest.ts'
import { P2P } from '../../src/p2p/index.ts'
import { Store } from '../../src/store/store.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

type Path = 'lane' | 'streams'

interface Round { seconds: number, cpu: number }

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function writeBlob (store: Store, size: number): Promise<Digest> {
  const hash = createHash('sha256')
  const chunks: Buffer[] = []
  for (let done = 0; done < size; done += 16 * MiB) {
    const chunk = randomFillSync(Buffer.alloc(Math.min(16 * MiB, size - done)))
    hash.update(chunk)
    chunks.push(chunk)
  }
  const digest: Digest = `sha256:${hash.digest('hex')}`
  await store.blobs.write(digest, chunks, { size })
  return digest
}

/** One pull into a fresh store; `metrics`: both nodes get a registry of their own. */
async function pullOnce (work: string, provider: P2P, digest: Digest, size: number, path: Path, metrics: boolean, round: number): Promise<Round> {
  const dir = join(work, `puller-${path}-${metrics ? 'on' : 'off'}-${round}`)
  const puller = await P2P.create({
    store: await Store.open(join(dir, 'store')),
    identityDir: join(dir, 'id'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    exchange: { lanes: { enabled: path === 'lane' } },
    ...(metrics ? { metricsRegistry: new Registry() } : {})
  })
  try {
    await puller.dial(provider.addresses[0] ?? '')
    const peer = puller.node.getPeers()[0]
    if (peer === undefined) throw new Error('not connected')
    // The provider hashes its piece list on first request; outside the timed pull, as a holder does at ingest.
    await puller.exchange.client.pieceList(peer, digest, size)
    const before = process.cpuUsage()
    const start = performance.now()
    await puller.pullBlob({ digest, size })
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(before)
    return { seconds, cpu: (used.user + used.system) / 1e6 }
  } finally {
    await puller.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function startProvider (work: string, name: string, store: Store, metrics: boolean): Promise<P2P> {
  return await P2P.create({
    store,
    identityDir: join(work, name),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(metrics ? { metricsRegistry: new Registry() } : {})
  })
}

/** One pull over each path from a provider started with or without metrics (it too runs as the setting says). */
async function pullsWith (work: string, store: Store, digest: Digest, size: number, metrics: boolean, round: number): Promise<Array<[Path, Round]>> {
  const provider = await startProvider(work, `provider-id-${metrics ? 'on' : 'off'}`, store, metrics)
  try {
    const rounds: Array<[Path, Round]> = []
    for (const path of ['lane', 'streams'] as const) rounds.push([path, await pullOnce(work, provider, digest, size, path, metrics, round)])
    return rounds
  } finally {
    await provider.stop()
  }
}

/** Median milliseconds of one scrape of a node whose store holds `count` small blobs. */
async function scrapeMs (work: string, count: number): Promise<number> {
  const store = await Store.open(join(work, 'scrape-store'))
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(256)
    await store.blobs.write(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, [bytes], { size: bytes.byteLength })
  }
  const p2p = await startProvider(work, 'scrape-id', store, false)
  const metrics = new NodeMetrics()
  metrics.watch({
    stats: p2p.exchange.stats,
    puller: p2p.puller,
    exchange: p2p.exchange,
    connectedPeers: () => p2p.node.getPeers().length,
    peerClass: peerClassifier([], []),
    storeUsage: async () => { const { sizes, storeBytes } = await blobSizes(store); return { bytes: storeBytes, blobs: sizes.size } },
    images: async () => (await store.refs.list()).length,
    containerStates: async () => new Map()
  })
  const times: number[] = []
  try {
    for (let i = 0; i < 5; i++) {
      const start = performance.now()
      await metrics.scrape()
      times.push(performance.now() - start)
    }
  } finally {
    metrics.stop()
    await p2p.stop()
  }
  return median(times)
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string', default: '128M' }, runs: { type: 'string', default: '3' }, blobs: { type: 'string', default: '1000' } } })
  const size = /^(\d+)M$/i.test(values.size) ? Number(values.size.slice(0, -1)) * MiB : Number(values.size)
  const runs = Number(values.runs)
  const work = await mkdtemp(join(tmpdir(), 'bench-metrics-'))
  try {
    const store = await Store.open(join(work, 'provider-store'))
    const digest = await writeBlob(store, size)
    const results = new Map<string, Round[]>()
    // A warm-up round (not counted) first: the first pulls of a process also pay for compiling its code.
    for (let round = -1; round < runs; round++) {
      // Alternated, so that neither setting always runs first.
      for (const metrics of round % 2 === 0 ? [false, true] : [true, false]) {
        const measured = await pullsWith(work, store, digest, size, metrics, round)
        if (round < 0) continue
        for (const [path, r] of measured) {
          const key = `${path} ${metrics ? 'on' : 'off'}`
          results.set(key, [...results.get(key) ?? [], r])
        }
      }
    }
    const rows: string[] = []
    for (const path of ['lane', 'streams'] as const) {
      const off = results.get(`${path} off`) ?? []
      const on = results.get(`${path} on`) ?? []
      const rate = (r: Round[]): number => size / median(r.map(x => x.seconds)) / 1e6
      const cpu = (r: Round[]): number => median(r.map(x => x.cpu)) / (size / GiB)
      rows.push(`| ${path} | ${rate(off).toFixed(0)} | ${rate(on).toFixed(0)} | ${(rate(on) / rate(off)).toFixed(2)}x | ${cpu(off).toFixed(2)} | ${cpu(on).toFixed(2)} | ${(cpu(on) / cpu(off)).toFixed(2)}x |`)
    }
    console.log(`pull of ${size / MiB} MiB, median of ${runs} rounds after a warm-up, both nodes in one process`)
    console.log('| path | MB/s metrics off | MB/s metrics on | on / off | CPU-s/GiB off | CPU-s/GiB on | on / off |')
    console.log('|---|---|---|---|---|---|---|')
    for (const row of rows) console.log(row)
    console.log(`one /metrics scrape, store of ${values.blobs} blobs: ${(await scrapeMs(work, Number(values.blobs))).toFixed(1)} ms (median of 5)`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
