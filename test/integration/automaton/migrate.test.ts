/**
 * `emergence automaton migrate` between real node processes on loopback with the real runc: a busybox
 * automaton counting in its state directory moves to a node that trusts the source and goes on counting from
 * its state; a large state is pre-copied while it runs and what changed at the stop follows as a delta; a node
 * that does not trust the source refuses, and a target that cannot start the container gives up: in both cases
 * the automaton runs on the source again with its state. Every node is stopped by its pid,
 * every container removed and every overlay unmounted in `after`.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { access, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildBusyboxImage } from '../../../scripts/lib/busybox-image.ts'
import { startNode, stopAll, type ClusterNode } from '../../../scripts/lib/cluster.ts'
import { assertCliError, runCli } from '../../helpers/tools.ts'
import { unmountAllUnder } from '../runner/helpers/mounts.ts'

const IMAGE = 'test/migrate:1'
/** Counts every 0.2 s in /state/n from what the state holds; ends between two counts on SIGTERM. */
const COUNTER = 'trap "exit 0" TERM; n=$(cat /state/n 2>/dev/null || echo 0); while true; do n=$((n+1)); echo $n > /state/n; echo $n; sleep 0.2; done'

let work = ''
const nodes: ClusterNode[] = []
let source: ClusterNode
let target: ClusterNode
let stranger: ClusterNode

interface Listed { spec: { name: string }, status: string, stateDir?: string }

async function automata (node: ClusterNode): Promise<Listed[]> {
  const result = await node.cli(['automaton', 'ls'], { json: true })
  assert.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as Listed[]
}

async function counter (node: ClusterNode, name: string): Promise<number> {
  return Number((await readFile(join(node.dataDir, 'automata', name, 'state', 'n'), 'utf8').catch(() => '0')).trim())
}

async function countsPast (node: ClusterNode, name: string, value: number): Promise<void> {
  const deadline = Date.now() + 30_000
  while (await counter(node, name) <= value) {
    if (Date.now() > deadline) throw new Error(`${name} on ${node.dataDir} did not count past ${value}`)
    await sleep(100)
  }
}

async function startCounter (name: string): Promise<number> {
  // A file naming the automaton: two states with the same count are still two snapshots.
  const state = join(source.dataDir, 'automata', name, 'state')
  await mkdir(state, { recursive: true })
  await writeFile(join(state, 'id'), name)
  const spec = join(work, `${name}.json`)
  await writeFile(spec, JSON.stringify({ name, artefact: IMAGE, process: { args: ['/bin/sh', '-c', COUNTER] }, state: '/state' }))
  const started = await source.cli(['automaton', 'start', spec])
  assert.equal(started.status, 0, started.stderr)
  await countsPast(source, name, 3)
  return await counter(source, name)
}

async function cleanUp (node: ClusterNode): Promise<void> {
  const ps = await runCli(['--json', 'ps'], { dataDir: node.dataDir })
  const ids = ps.code === 0 ? (JSON.parse(ps.stdout) as Array<{ id: string }>).map(c => c.id) : []
  for (const id of ids) await runCli(['stop', '--timeout', '1', id], { dataDir: node.dataDir })
  if (ids.length > 0) await runCli(['rm', '--force', ...ids], { dataDir: node.dataDir })
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'automaton-migrate-'))
  const layout = await buildBusyboxImage(work)
  const imported = await runCli(['image', 'import', `${layout}:1`, '--name', IMAGE], { dataDir: join(work, 'source') })
  assert.equal(imported.code, 0, imported.stderr)
  const extraArgs = ['--nix-cache', 'off']
  source = await startNode({ dataDir: join(work, 'source'), extraArgs })
  nodes.push(source)
  target = await startNode({ dataDir: join(work, 'target'), bootstrap: [source.address], trusted: [source.peerId], extraArgs })
  nodes.push(target)
  // Trusts nobody: takes no migration.
  stranger = await startNode({ dataDir: join(work, 'stranger'), bootstrap: [source.address], extraArgs })
  nodes.push(stranger)
})

after(async () => {
  for (const node of nodes) await cleanUp(node)
  await stopAll(nodes)
  await unmountAllUnder(work)
  await rm(work, { recursive: true, force: true })
})

test('a running counter moves with its state and goes on counting on the target', async t => {
  const before = await startCounter('counter')
  const run = await source.cli(['automaton', 'migrate', 'counter', '--to', target.address, '--stop-timeout', '5'])
  assert.equal(run.status, 0, run.stderr)
  t.diagnostic(run.stdout)
  const lines = run.stdout.trim().split('\n')
  assert.deepEqual(lines.map(l => l.split(':')[0]), ['prefetch', 'stop', 'snapshot', 'transfer', 'restore', 'start', 'commit', 'cleanup', `migrated counter to ${target.peerId}`])
  assert.match(lines.at(-1) ?? '', /downtime \d+ ms$/)

  // The source has no automaton left, and no pin of the snapshot.
  assert.deepEqual(await automata(source), [])
  await assert.rejects(access(join(source.dataDir, 'automata', 'counter')), { code: 'ENOENT' })
  const pins = JSON.parse(await readFile(join(source.dataDir, 'oci', '.emergence', 'pins.json'), 'utf8').catch(() => '{"pins":[]}')) as { pins: unknown[] }
  assert.deepEqual(pins.pins, [])
  // The target runs it from the state the source left: its first count follows one at least as high as before.
  assert.equal((await automata(target)).find(a => a.spec.name === 'counter')?.status, 'running')
  let first = 0
  for (const deadline = Date.now() + 30_000; first === 0 && Date.now() < deadline; await sleep(100)) {
    first = Number((await target.cli(['automaton', 'logs', 'counter'])).stdout.split('\n')[0])
  }
  assert.ok(first > before, `the target's first count ${first} follows ${before}`)
  await countsPast(target, 'counter', first + 2)
})

test('--json reports the phases, the bytes and the downtime', async () => {
  await startCounter('jsoned')
  const run = await source.cli(['automaton', 'migrate', 'jsoned', '--to', target.peerId, '--stop-timeout', '5'], { json: true })
  assert.equal(run.status, 0, run.stderr)
  const result = JSON.parse(run.stdout) as { name: string, to: string, downtimeMs: number, snapshot: { digest: string, size: number }, phases: Array<{ phase: string, ms: number, bytes?: number }> }
  assert.equal(result.name, 'jsoned')
  assert.equal(result.to, target.peerId)
  assert.ok(result.downtimeMs > 0)
  assert.match(result.snapshot.digest, /^sha256:[0-9a-f]{64}$/)
  // A tar of one small file: at least its header, a block of data and the two zero blocks that end a tar.
  assert.ok(result.snapshot.size >= 1536, `snapshot of ${result.snapshot.size} bytes`)
  assert.equal(result.phases.find(p => p.phase === 'transfer')?.bytes, result.snapshot.size)
  assert.equal((await automata(target)).find(a => a.spec.name === 'jsoned')?.status, 'running')
})

/** Changes its state only when stopped: after the pre-copy's base, before the delta. */
const CHANGES_ON_STOP = 'trap "echo after > /state/mod; rm /state/del; echo new > /state/added; rm -r /state/dir; echo file > /state/dir; exit 0" TERM; while true; do sleep 0.2; done'

test('a large state is pre-copied while it runs; what changed at the stop follows as a delta', async () => {
  const name = 'precopied'
  const state = join(source.dataDir, 'automata', name, 'state')
  await mkdir(join(state, 'dir'), { recursive: true })
  const big = randomBytes(1536 * 1024)
  await writeFile(join(state, 'big'), big)
  // Older than the pre-copy's walk by far, whatever the clock's granularity: it is not sent again.
  await utimes(join(state, 'big'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000))
  await writeFile(join(state, 'mod'), 'before\n')
  await writeFile(join(state, 'del'), 'gone soon\n')
  await writeFile(join(state, 'dir', 'a'), 'a\n')
  const spec = join(work, `${name}.json`)
  await writeFile(spec, JSON.stringify({ name, artefact: IMAGE, process: { args: ['/bin/sh', '-c', CHANGES_ON_STOP] }, state: '/state' }))
  const started = await source.cli(['automaton', 'start', spec])
  assert.equal(started.status, 0, started.stderr)
  const run = await source.cli(['automaton', 'migrate', name, '--to', target.address, '--stop-timeout', '5'], { json: true })
  assert.equal(run.status, 0, run.stderr)
  const result = JSON.parse(run.stdout) as { snapshot: { size: number, base?: string }, base?: { digest: string, size: number }, phases: Array<{ phase: string, bytes?: number }> }
  assert.deepEqual(result.phases.map(p => p.phase).slice(0, 3), ['prefetch', 'precopy', 'stop'])
  assert.equal(result.snapshot.base, result.base?.digest)
  assert.ok((result.base?.size ?? 0) > big.length, 'the base holds the whole state')
  assert.ok(result.snapshot.size < 64 * 1024, `the delta is ${result.snapshot.size} bytes`)
  const moved = join(target.dataDir, 'automata', name, 'state')
  assert.deepEqual((await readdir(moved)).sort(), ['added', 'big', 'dir', 'mod'])
  assert.ok((await readFile(join(moved, 'big'))).equals(big))
  assert.equal(await readFile(join(moved, 'mod'), 'utf8'), 'after\n')
  assert.equal(await readFile(join(moved, 'added'), 'utf8'), 'new\n')
  assert.equal(await readFile(join(moved, 'dir'), 'utf8'), 'file\n')
  // Nothing else was left next to it, and the source holds no pin of either snapshot.
  assert.deepEqual((await readdir(join(target.dataDir, 'automata', name))).filter(n => n.startsWith('state')), ['state'])
  const pins = JSON.parse(await readFile(join(source.dataDir, 'oci', '.emergence', 'pins.json'), 'utf8').catch(() => '{"pins":[]}')) as { pins: unknown[] }
  assert.deepEqual(pins.pins, [])
  assert.equal((await automata(target)).find(a => a.spec.name === name)?.status, 'running')
})

test('a target that does not trust the source refuses; the automaton runs on with its state', async () => {
  await startCounter('refused')
  const line = assertCliError(await runCli(['automaton', 'migrate', 'refused', '--to', stranger.address], { dataDir: source.dataDir }))
  assert.match(line, /migration failed at prefetch: the target \S+ refused the migration: migrations from \S+ are not accepted.*\(NOT_ALLOWED\); the automaton still runs here/)
  assert.equal((await automata(source)).find(a => a.spec.name === 'refused')?.status, 'running')
  await countsPast(source, 'refused', await counter(source, 'refused'))
  assert.deepEqual(await automata(stranger), [])
})

test('a target that cannot start the container gives up; the source runs it again from its state', async () => {
  // A state past the pre-copy's threshold: the base the target unpacked goes too.
  await mkdir(join(source.dataDir, 'automata', 'blocked', 'state'), { recursive: true })
  await writeFile(join(source.dataDir, 'automata', 'blocked', 'state', 'big'), randomBytes(1536 * 1024))
  const before = await startCounter('blocked')
  // A bundle directory of that name on the target: its runner refuses to create the container.
  const bundle = join(target.dataDir, 'runner', 'bundles', 'blocked')
  await mkdir(bundle, { recursive: true })
  const line = assertCliError(await runCli(['automaton', 'migrate', 'blocked', '--to', target.address, '--stop-timeout', '5'], { dataDir: source.dataDir }))
  assert.match(line, /migration failed at transfer: .*a container "blocked" already exists.*; the automaton runs here again/)
  await rm(bundle, { recursive: true })
  assert.equal((await automata(source)).find(a => a.spec.name === 'blocked')?.status, 'running')
  await countsPast(source, 'blocked', before + 1)
  // The target removed what it made.
  assert.equal((await automata(target)).some(a => a.spec.name === 'blocked'), false)
  await assert.rejects(access(join(target.dataDir, 'automata', 'blocked')), { code: 'ENOENT' })
  const pins = JSON.parse(await readFile(join(source.dataDir, 'oci', '.emergence', 'pins.json'), 'utf8').catch(() => '{"pins":[]}')) as { pins: unknown[] }
  assert.deepEqual(pins.pins, [])
})

test('bad requests fail with one line and change nothing', async () => {
  assert.match(assertCliError(await runCli(['automaton', 'migrate', 'nothing', '--to', target.peerId], { dataDir: source.dataDir })), /no automaton "nothing"/)
  await startCounter('stays')
  assert.match(assertCliError(await runCli(['automaton', 'migrate', 'stays', '--to', 'not-a-peer'], { dataDir: source.dataDir })), /bad migration target "not-a-peer"/)
  assert.equal((await automata(source)).find(a => a.spec.name === 'stays')?.status, 'running')
  assert.equal((await source.cli(['automaton', 'stop', '--timeout', '5', 'stays'])).status, 0)
  assert.match(assertCliError(await runCli(['automaton', 'migrate', 'stays', '--to', target.peerId], { dataDir: source.dataDir })), /automaton "stays" is stopped, not running/)
  assert.equal((await automata(target)).some(a => a.spec.name === 'stays'), false)
})
