/**
 * What a CLI call costs before it does its work, against bare `node -e 0` measured in the same run: the median
 * wall time of `emergence --version`, `image ls` on a store of 100 images, `node status`, and `pull` of an image
 * the node already holds, each run `--runs` times (default 15) as a script would call them.
 *
 *   node scripts/bench/cli-startup.ts [--runs 15]
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pack } from 'tar-stream'
import { MEDIA_TYPE } from '../../src/oci/media-types.ts'
import { storeRoot } from '../../src/store/paths.ts'
import { Store } from '../../src/store/store.ts'
import { EMERGENCE_BIN } from '../lib/cluster.ts'

const IMAGES = 100

/** A one-file tar, different for every `n`. */
async function tinyLayer (n: number): Promise<Buffer> {
  const tar = pack()
  tar.entry({ name: `etc/image-${n}`, mode: 0o644, mtime: new Date(0) }, `image ${n}\n`)
  tar.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of tar) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** `IMAGES` distinct one-layer images under bench/img-<n>:1.0, written through the store API. */
async function fillStore (dataDir: string): Promise<void> {
  const store = await Store.open(storeRoot(dataDir))
  const add = async (bytes: Uint8Array, mediaType: string): Promise<{ mediaType: string, digest: `sha256:${string}`, size: number }> => {
    const info = await store.blobs.add([bytes])
    return { mediaType, digest: info.digest as `sha256:${string}`, size: info.size }
  }
  const entries = []
  for (let n = 0; n < IMAGES; n++) {
    const layerBytes = await tinyLayer(n)
    const layer = await add(layerBytes, MEDIA_TYPE.ociLayer)
    const config = await add(Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] }
    })), MEDIA_TYPE.ociConfig)
    const manifest = await add(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers: [layer] })), MEDIA_TYPE.ociManifest)
    entries.push({ ref: `bench/img-${n}:1.0`, descriptor: manifest })
  }
  await store.refs.setMany(entries)
}

function wallSeconds (command: string, args: string[]): number {
  const start = process.hrtime.bigint()
  const result = spawnSync(command, args, { encoding: 'utf8' })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim()}`)
  return seconds
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } })
  const runs = Number(values.runs)
  const work = await mkdtemp(join(tmpdir(), 'bench-cli-'))
  const dataDir = join(work, 'data')
  const cli = (...args: string[]): [string, string[]] => [EMERGENCE_BIN, ['--data-dir', dataDir, ...args]]
  try {
    await fillStore(dataDir)
    wallSeconds(...cli('node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'))
    const cases: Array<[string, [string, string[]], number | undefined]> = [
      ['node -e 0 (baseline)', [process.execPath, ['-e', '0']], undefined],
      ['emergence --version', cli('--version'), 0.1],
      [`emergence image ls (${IMAGES} images)`, cli('image', 'ls'), 0.3],
      ['emergence node status', cli('node', 'status'), undefined],
      ['emergence pull (image already held)', cli('pull', 'bench/img-7:1.0'), 0.4]
    ]
    const medians = new Map<string, number>()
    // Interleaved rounds, so that a burst of load on the shared machine hits every case alike.
    const samples = cases.map(() => [] as number[])
    for (let round = 0; round < runs; round++) {
      cases.forEach(([, [command, args]], i) => { samples[i]?.push(wallSeconds(command, args)) })
    }
    cases.forEach(([name], i) => medians.set(name, median(samples[i] ?? [])))
    const bare = medians.get('node -e 0 (baseline)') ?? 0
    console.log(`| command | median s | minus bare node s | x bare node | aim |`)
    console.log('|---|---|---|---|---|')
    for (const [name, , aim] of cases) {
      const s = medians.get(name) ?? 0
      const aimText = aim === undefined ? '' : name.includes('--version') ? `within ${aim} s of bare node` : `at most ${aim} s`
      console.log(`| ${name} | ${s.toFixed(3)} | ${(s - bare).toFixed(3)} | ${(s / bare).toFixed(1)} | ${aimText} |`)
    }
    console.log(`\n${runs} runs each, interleaved; Node ${process.version}`)
  } finally {
    spawnSync(EMERGENCE_BIN, ['--data-dir', dataDir, 'node', 'stop'])
    await rm(work, { recursive: true, force: true })
  }
}

await main()
