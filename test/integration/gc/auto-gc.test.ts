/**
 * The automatic GC in a real node (`node start` with a small `--gc-max-store-size`): a pass evicts the least
 * recently used unpinned image, and keeps a pinned one, one an automaton is defined on, one a container stands
 * on, and one used more recently, even though all of them are older than the grace period.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, utimes, writeFile } from 'node:fs/promises'
import { test } from 'node:test'
import { controlRequest } from '../../../src/daemon/control-client.ts'
import { socketPath } from '../../../src/daemon/socket-path.ts'
import { recordUse } from '../../../src/gc/usage.ts'
import type { GcPassReport } from '../../../src/gc/pass.ts'
import { AutomatonPaths } from '../../../src/automaton/automata.ts'
import { ContainerRecords, RunnerPaths } from '../../../src/runner/containers.ts'
import { storeRoot } from '../../../src/store/paths.ts'
import { Store } from '../../../src/store/store.ts'
import { processAlive } from '../../../src/util/fs.ts'
import { blobsOnDisk, putImage, type StoredImage } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { runCli } from '../../helpers/tools.ts'

const LAYER = 64 * 1024
const HOUR = 3_600_000

test('a GC pass over the size cap evicts the least recently used unprotected image only', async t => {
  const dataDir = await tempDir(t)
  const store = await Store.open(storeRoot(dataDir))
  const images: Record<string, StoredImage> = {}
  // Oldest use first: pinned, automaton, container, victim, fresh.
  const order = ['pinned', 'automaton', 'container', 'victim', 'fresh']
  for (const name of order) {
    images[name] = await putImage(store, [randomBytes(LAYER).toString('base64').slice(0, LAYER)], name)
    await store.refs.set(`app/${name}:1`, images[name].manifest)
  }
  const image = (name: string): StoredImage => images[name] ?? assert.fail(name)
  await store.pins.add(image('pinned').manifest.digest)
  const automata = new AutomatonPaths(dataDir)
  await mkdir(automata.dir('keeper'), { recursive: true })
  await writeFile(automata.spec('keeper'), JSON.stringify({ name: 'keeper', artefact: 'app/automaton:1' }))
  const runner = new RunnerPaths(dataDir)
  await new ContainerRecords(runner.containers).put({
    id: 'stopped-one', kind: 'image', image: 'app/container:1', digest: image('container').manifest.digest,
    bundle: runner.bundle('stopped-one'), created: new Date().toISOString(), detached: true, runcRoot: runner.runcRoot
  })
  // Every blob older than the store's grace period; each image used an hour apart.
  const now = Date.now()
  const old = new Date(now - 10 * HOUR)
  for (const digest of await blobsOnDisk(store)) await utimes(store.paths.blob(digest as `sha256:${string}`), old, old)
  for (const [i, name] of order.entries()) await recordUse(store, [image(name).manifest.digest], new Date(now - (order.length - i) * HOUR))

  // A cap half a layer below the store's size: one unprotected image must go, and one is enough.
  const storeBytes = (await Promise.all((await blobsOnDisk(store)).map(async d => (await store.blobs.stat(d as `sha256:${string}`))?.size ?? 0))).reduce((a, b) => a + b, 0)
  const started = await runCli(['--json', 'node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--lane-port', 'off',
    '--nix-cache', 'off', '--registry', 'off', '--gc-max-store-size', String(storeBytes - LAYER / 2),
    '--gc-high-watermark', '100%', '--gc-low-watermark', '100%', '--gc-interval', 'off'], { dataDir })
  assert.equal(started.code, 0, started.stderr)
  const { pid } = (JSON.parse(started.stdout) as { started: { pid: number } }).started
  t.after(() => { if (processAlive(pid)) process.kill(pid, 'SIGKILL') })

  const report = await controlRequest(socketPath(dataDir), 'POST', '/v1/gc') as GcPassReport
  assert.equal(report.reasons.length, 1, JSON.stringify(report.reasons))
  assert.match(report.reasons[0] ?? '', /^store /)
  assert.deepEqual(report.evicted.map(e => e.refs), [['app/victim:1']])
  assert.deepEqual((await store.refs.list()).map(r => r.ref).sort(), ['app/automaton:1', 'app/container:1', 'app/fresh:1', 'app/pinned:1'])
  const left = new Set(await blobsOnDisk(store))
  for (const name of ['pinned', 'automaton', 'container', 'fresh']) assert.ok(left.has(image(name).layers[0]?.digest ?? ''), `${name}'s layer is kept`)
  assert.equal(left.has(image('victim').layers[0]?.digest ?? ''), false, 'the victim\'s layer is gone')
  assert.ok(report.after.storeBytes <= storeBytes - LAYER / 2)

  // Below the cap now: the next pass (asked for from the CLI) has nothing to do.
  const again = await runCli(['--json', 'gc', '--auto'], { dataDir })
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual((JSON.parse(again.stdout) as GcPassReport).reasons, [])
  assert.match((await runCli(['gc', '--auto'], { dataDir })).stdout, /^nothing to do: the store's filesystem is \d+% full, the store holds /)
  assert.equal((await runCli(['node', 'stop'], { dataDir })).code, 0)
})
