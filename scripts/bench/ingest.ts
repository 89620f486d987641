/**
 * Ingest benchmark: storing one large blob (verified against its digest while streaming, fsynced, renamed into
 * place) against `sha256sum` and Node's bare sha256 of the same file, in the same run. The ratio to Node's bare
 * hashing is the result; peak RSS of the ingesting process shows memory does not grow with blob size.
 *
 *   node scripts/bench/ingest.ts [size-MiB=1024] [runs=3]
 */
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Store } from '../../src/store/store.ts'
import type { Digest } from '../../src/oci/digest.ts'

const MiB = 1024 * 1024

async function makeFile (path: string, sizeMiB: number): Promise<void> {
  const block = randomBytes(MiB)
  async function * blocks (): AsyncGenerator<Buffer> {
    for (let i = 0; i < sizeMiB; i++) {
      block[0] = i & 0xff
      yield block
    }
  }
  await pipeline(blocks(), createWriteStream(path))
}

async function nodeHash (file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer)
  return `sha256:${hash.digest('hex')}`
}

/** Child mode: one measured operation, printing `seconds maxRssMiB`. */
async function child (mode: string, file: string, arg: string): Promise<void> {
  const start = process.hrtime.bigint()
  if (mode === 'node-sha256') await nodeHash(file)
  if (mode === 'baseline') await Store.open(join(arg, `store-${process.pid}`))
  if (mode === 'ingest') {
    const store = await Store.open(join(arg, `store-${process.pid}`))
    const digest = (process.env.BENCH_DIGEST ?? '') as Digest
    await store.blobs.write(digest, createReadStream(file, { highWaterMark: 4 * MiB }), { size: Number(process.env.BENCH_SIZE) })
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    process.stdout.write(`${seconds} ${process.resourceUsage().maxRSS / 1024}\n`)
    await rm(store.root, { recursive: true, force: true })
    return
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  process.stdout.write(`${seconds} ${process.resourceUsage().maxRSS / 1024}\n`)
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

async function main (): Promise<void> {
  const [, , first, second, third, fourth] = process.argv
  if (first === '--child') return await child(second ?? '', third ?? '', fourth ?? '')
  const sizeMiB = Number(first ?? 1024)
  const runs = Number(second ?? 3)
  const dir = await mkdtemp(join(tmpdir(), 'emergence-bench-'))
  try {
    const file = join(dir, 'blob')
    await makeFile(file, sizeMiB)
    // Let the new file reach the disk first, so that write-back does not run during the measurements.
    spawnSync('sync')
    const digest = await nodeHash(file)
    const env = { ...process.env, BENCH_DIGEST: digest, BENCH_SIZE: String(sizeMiB * MiB) }
    const measure = (name: string, run: () => { seconds: number, rss?: number }): { name: string, seconds: number, rss?: number } => {
      const samples = Array.from({ length: runs }, run)
      const rss = samples.map(s => s.rss).filter((r): r is number => r !== undefined)
      return { name, seconds: median(samples.map(s => s.seconds)), ...(rss.length > 0 ? { rss: Math.max(...rss) } : {}) }
    }
    const viaChild = (mode: string) => () => {
      const out = spawnSync(process.execPath, [import.meta.filename, '--child', mode, file, dir], { env, encoding: 'utf8' })
      if (out.status !== 0) throw new Error(`${mode} failed: ${out.stderr}`)
      spawnSync('sync')
      const [seconds, rss] = out.stdout.trim().split(' ').map(Number)
      return { seconds: seconds ?? NaN, ...(rss !== undefined ? { rss } : {}) }
    }
    const results = [
      measure('sha256sum', () => {
        const start = process.hrtime.bigint()
        const out = spawnSync('sha256sum', [file], { encoding: 'utf8' })
        if (out.status !== 0) throw new Error('sha256sum failed')
        return { seconds: Number(process.hrtime.bigint() - start) / 1e9 }
      }),
      measure('node sha256 (bare hashing)', viaChild('node-sha256')),
      measure('emergence ingest (verify+fsync+rename)', viaChild('ingest'))
    ]
    const baseline = viaChild('baseline')().rss ?? NaN
    const nodeSeconds = results[1]?.seconds ?? NaN
    console.log(`\ningest of a ${sizeMiB} MiB blob, median of ${runs} runs (file in page cache)\n`)
    console.log(`peak RSS of a process that only loads and opens the store: ${baseline.toFixed(0)} MiB\n`)
    console.log('| what | seconds | MB/s | speed vs node sha256 | peak RSS MiB |')
    console.log('|---|---|---|---|---|')
    for (const r of results) {
      const mbps = (sizeMiB * MiB / 1e6) / r.seconds
      console.log(`| ${r.name} | ${r.seconds.toFixed(2)} | ${mbps.toFixed(0)} | ${(nodeSeconds / r.seconds).toFixed(2)}x | ${r.rss !== undefined ? r.rss.toFixed(0) : '-'} |`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
