/**
 * Migration across network-namespace hosts (docs/automata.md "Migration"), one `emergence node start` process
 * per host: the image is imported on host 1 and pulled by hosts 2 and 3; a busybox automaton counting in its
 * state directory runs on host 2; host 1 is SIGKILLed; the automaton migrates from host 2 to host 4, which
 * prefetches the image from hosts 2 and 3 (their uploads capped, so that both serve) and goes on counting from
 * the state host 2 left. Then the failures: the target SIGKILLed while it pulls the snapshot (the automaton runs
 * on the source again), the source SIGKILLed after it stopped the automaton (its state is intact and it starts
 * again from it). Needs root (namespaces, tc, runc).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { NodeStatus } from '../../src/daemon/daemon.ts'
import { fileFixture } from '../helpers/temp.ts'
import { runCli } from '../helpers/tools.ts'
import { unmountAllUnder } from '../integration/runner/helpers/mounts.ts'
import { buildImages, failed, importImages, pulled, type FaultImage } from './faults/images.ts'
import { Lab, control, waitFor, type HostNode } from './faults/lab.ts'

const PFX = 'embm'
const images = fileFixture(async dir => await buildImages(dir, { app: 12 }), 'emergence-migrate-')
/** Counts every 0.2 s in /state/n from what the state holds; ends between two counts on SIGTERM. */
const COUNTER = 'trap "exit 0" TERM; n=$(cat /state/n 2>/dev/null || echo 0); while true; do n=$((n+1)); echo $n > /state/n; echo $n; sleep 0.2; done'

async function counter (node: HostNode): Promise<number> {
  return Number((await readFile(join(node.dataDir, 'automata', 'counter', 'state', 'n'), 'utf8').catch(() => '0')).trim())
}

/** Stops and removes every container of a data dir (runc keeps running containers apart from the node). */
async function removeContainers (dataDir: string): Promise<void> {
  const ps = await runCli(['--json', 'ps'], { dataDir })
  const ids = ps.code === 0 ? (JSON.parse(ps.stdout) as Array<{ id: string }>).map(c => c.id) : []
  for (const id of ids) await runCli(['stop', '--timeout', '1', id], { dataDir })
  if (ids.length > 0) await runCli(['rm', '--force', ...ids], { dataDir })
}

/**
 * A lab of `count` hosts whose containers are removed (and overlays unmounted) before the lab's own teardown.
 * runc needs the cgroup mounts under /sys, which `ip netns exec` hides by mounting the namespace's own sysfs:
 * the nodes (which start migrated containers) enter only the host's network namespace.
 */
async function openLab (t: TestContext, count: number): Promise<Lab> {
  const dataDirs: string[] = []
  t.after(async () => {
    for (const dir of dataDirs) await removeContainers(dir)
    for (const dir of dataDirs) await unmountAllUnder(dir)
  })
  const lab = await Lab.open(t, PFX, count)
  dataDirs.push(...lab.hosts.map(h => join(lab.work, h.ns)))
  for (const host of lab.hosts) host.wrap = ['nsenter', `--net=/var/run/netns/${host.ns}`]
  return lab
}

/** Starts the counter on `node` from `image`, with `stateMiB` of random bytes in its state; returns the spec file. */
async function startCounter (lab: Lab, node: HostNode, image: FaultImage, stateMiB = 0): Promise<string> {
  const state = join(node.dataDir, 'automata', 'counter', 'state')
  await mkdir(state, { recursive: true })
  if (stateMiB > 0) await writeFile(join(state, 'data'), randomBytes(stateMiB * 1024 * 1024))
  const spec = join(lab.work, 'counter.json')
  await writeFile(spec, JSON.stringify({ name: 'counter', artefact: image.ref, process: { args: ['/bin/sh', '-c', COUNTER] }, state: '/state' }))
  const started = await node.cli(['automaton', 'start', spec])
  assert.equal(started.status, 0, `${started.stdout} ${started.stderr}`)
  await waitFor('the counter to reach 3', async () => await counter(node) >= 3, 30_000)
  return spec
}

/** The first count the counter's container logged (once it logged one). */
async function firstCount (node: HostNode): Promise<number> {
  let first = ''
  await waitFor('the counter to log a count', async () => {
    first = (await node.cli(['automaton', 'logs', 'counter'])).stdout.split('\n')[0] ?? ''
    return first !== ''
  }, 30_000)
  return Number(first)
}

/** The counter's process ended (its shim wrote the exit code): the source stopped it for the migration. */
async function processEnded (node: HostNode): Promise<boolean> {
  return await access(join(node.dataDir, 'runner', 'logs', 'counter.log.exit')).then(() => true, () => false)
}

test('an automaton migrates from host 2 to host 4 with its state while the image origin is dead', async t => {
  const { app } = await images()
  const lab = await openLab(t, 5)
  await importImages(join(lab.work, lab.host(1).ns), [app])
  const origin = await lab.start(lab.host(1))
  const [h2, h3] = await Promise.all([2, 3].map(async i => await lab.start(lab.host(i), { bootstrap: [origin], trusted: [origin] })))
  assert.ok(h2 !== undefined && h3 !== undefined)
  for (const node of [h2, h3]) pulled(await node.cli(['pull', app.ref], { json: true }))
  // Host 4 takes migrations from host 2 (its trusted peer); host 5 is a bystander.
  const h4 = await lab.start(lab.host(4), { bootstrap: [h2, h3], trusted: [h2] })
  await lab.start(lab.host(5), { bootstrap: [h2] })
  await waitFor('host 4 to connect to hosts 2 and 3', async () => (await control<NodeStatus>(h4, '/v1/status')).peers >= 2)

  await startCounter(lab, h2, app)

  await lab.kill(origin)
  // 40 mbit each: the 12 MiB layer takes over a second from one, so the prefetch draws on both.
  for (const node of [h2, h3]) await lab.shape(node.host, { up: '40mbit' })
  const before = await counter(h2)
  const run = await h2.cli(['automaton', 'migrate', 'counter', '--to', h4.address, '--stop-timeout', '5'], { json: true })
  assert.equal(run.status, 0, run.stderr)
  const result = JSON.parse(run.stdout) as { downtimeMs: number, prefetch: { fetchedBytes: number, fromPeers: Record<string, number> } }
  t.diagnostic(`downtime ${result.downtimeMs} ms; prefetch ${JSON.stringify(result.prefetch)}`)
  const sources = Object.entries(result.prefetch.fromPeers).filter(([, bytes]) => bytes > 0).map(([peer]) => peer).sort()
  assert.deepEqual(sources, [h2.peerId, h3.peerId].sort(), 'the layers came from hosts 2 and 3')
  assert.ok(result.prefetch.fetchedBytes >= app.layer.size)

  // Host 4 goes on from host 2's state: its first count follows the last host 2 wrote.
  const first = await firstCount(h4)
  assert.ok(first > before, `host 4 counted ${first} first, host 2 had reached ${before}`)
  await waitFor('host 4 to count on', async () => await counter(h4) >= first + 2, 30_000)
  const listed = JSON.parse((await h2.cli(['automaton', 'ls'], { json: true })).stdout) as unknown[]
  assert.deepEqual(listed, [], 'host 2 dropped its copy')
})

/**
 * Two hosts; the counter (16 MiB of state) runs on host 1 and is being migrated to host 2 over a 40 mbit uplink, so
 * the snapshot takes over 3 s to move: time to kill either side in the middle. Returns once the source stopped it.
 */
interface MigrationUnderWay {
  app: FaultImage
  lab: Lab
  source: HostNode
  target: HostNode
  migrating: ReturnType<HostNode['cli']>
  /** The counter's value when the source stopped it. */
  before: number
}

async function migrationUnderWay (t: TestContext): Promise<MigrationUnderWay> {
  const { app } = await images()
  const lab = await openLab(t, 2)
  await importImages(join(lab.work, lab.host(1).ns), [app])
  const source = await lab.start(lab.host(1))
  const target = await lab.start(lab.host(2), { bootstrap: [source], trusted: [source] })
  await startCounter(lab, source, app, 16)
  await lab.shape(source.host, { up: '40mbit' })
  const migrating = source.cli(['automaton', 'migrate', 'counter', '--to', target.address, '--stop-timeout', '5'])
  await waitFor('the source to stop the counter', async () => await processEnded(source))
  return { app, lab, source, target, migrating, before: await counter(source) }
}

test('the target SIGKILLed while it pulls the snapshot: the automaton runs on the source again', async t => {
  const { app, lab, source, target, migrating, before } = await migrationUnderWay(t)
  const bytes = app.bytes + 2 * 1024 * 1024
  await waitFor('2 MiB of the snapshot to reach the target', async () => (await control<NodeStatus>(target, '/v1/status')).receivedBytes >= bytes)
  await lab.kill(target)
  const line = failed(await migrating)
  t.diagnostic(line)
  assert.match(line, /migration failed at transfer: .*the automaton runs here again/)
  const listed = JSON.parse((await source.cli(['automaton', 'ls'], { json: true })).stdout) as Array<{ status: string }>
  assert.equal(listed[0]?.status, 'running')
  await waitFor('the counter to go on from its state on the source', async () => await counter(source) > before + 1, 30_000)
  assert.deepEqual(JSON.parse(await readFile(join(source.dataDir, 'oci', '.emergence', 'pins.json'), 'utf8')).pins, [], 'the snapshot was unpinned')
})

test('the source SIGKILLed after it stopped the automaton: its state is intact and it starts again from it', async t => {
  const { lab, source, target, migrating, before } = await migrationUnderWay(t)
  await lab.kill(source)
  t.diagnostic(failed(await migrating))
  // The target gives the migration up when the stream ends, and removes what it made.
  await waitFor('the target to drop the half-made automaton', async () => await access(join(target.dataDir, 'automata', 'counter')).then(() => false, () => true), 60_000)
  const restarted = await lab.start(source.host, { dataDir: source.dataDir })
  const spec = join(source.dataDir, 'automata', 'counter', 'spec.json')
  const started = await restarted.cli(['automaton', 'start', spec])
  assert.equal(started.status, 0, started.stderr)
  await waitFor('the counter to go on from its state', async () => await counter(restarted) > before + 1, 30_000)
  assert.equal(await firstCount(restarted), before + 1, 'it counted on from the state it left')
})
