/**
 * The migration phase machines (src/automaton/migrate/phases.ts) with fake steps: the order of a migration,
 * and the rollback after a failure at each step of either side.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runSource, runTarget, type SourceSteps, type TargetSteps } from '../../../src/automaton/migrate/phases.ts'
import type { Digest } from '../../../src/oci/digest.ts'

const SNAPSHOT = { digest: `sha256:${'a'.repeat(64)}` as Digest, size: 1024 }

type SourceStep = Exclude<keyof SourceSteps, 'peer'>

function fakeSource (failAt?: SourceStep): { steps: SourceSteps, calls: string[] } {
  const calls: string[] = []
  const step = <T>(name: SourceStep, value: T) => async (): Promise<T> => {
    calls.push(name)
    if (name === failAt) throw new Error(`${name} failed`)
    return value
  }
  return {
    calls,
    steps: {
      peer: 'target',
      offer: step('offer', { fetchedBytes: 10, fromPeers: { a: 5, b: 5 } }),
      precopy: step('precopy', undefined),
      stop: step('stop', undefined),
      snapshot: step('snapshot', SNAPSHOT),
      handOver: step('handOver', { fetchedBytes: 1024, pullMs: 1, restoreMs: 2, startMs: 3 }),
      commit: step('commit', undefined),
      remove: step('remove', undefined),
      release: step('release', undefined),
      restart: step('restart', undefined),
      abort: step('abort', undefined)
    }
  }
}

test('source: offer, stop, snapshot, hand over, commit, then the local copy goes', async () => {
  const { steps, calls } = fakeSource()
  const phases: string[] = []
  const report = await runSource(steps, e => phases.push(e.phase))
  assert.deepEqual(calls, ['offer', 'precopy', 'stop', 'snapshot', 'handOver', 'commit', 'remove', 'release'])
  assert.deepEqual(phases, ['prefetch', 'stop', 'snapshot', 'transfer', 'restore', 'start', 'commit', 'cleanup'])
  assert.deepEqual(report.snapshot, SNAPSHOT)
  assert.deepEqual(report.prefetch.fromPeers, { a: 5, b: 5 })
  assert.ok(report.downtimeMs >= 0)
})

const rollbacks: Array<[SourceStep, string[], boolean]> = [
  // The offer failed: nothing was stopped, nothing to restart.
  ['offer', ['offer', 'abort'], false],
  // The stop failed: the process may be stopped all the same: start it again.
  // The pre-copy failed (the target is gone): the process never stopped.
  ['precopy', ['offer', 'precopy', 'abort'], false],
  ['stop', ['offer', 'precopy', 'stop', 'abort', 'restart'], true],
  ['snapshot', ['offer', 'precopy', 'stop', 'snapshot', 'abort', 'restart'], true],
  ['handOver', ['offer', 'precopy', 'stop', 'snapshot', 'handOver', 'abort', 'restart', 'release'], true]
]

for (const [failAt, expected, restarted] of rollbacks) {
  test(`source: a failure at ${failAt} restarts the automaton here (if stopped) and releases the snapshot`, async () => {
    const { steps, calls } = fakeSource(failAt)
    await assert.rejects(runSource(steps), (err: Error & { restarted?: boolean, phase?: string }) => {
      assert.equal(err.name, 'MigrationFailedError')
      assert.equal(err.restarted, restarted)
      assert.match(err.message, new RegExp(`${failAt} failed`))
      return true
    })
    assert.deepEqual(calls, expected)
    assert.equal(calls.includes('remove'), false)
  })
}

test('source: no DONE after COMMIT keeps the stopped copy and the snapshot, and restarts nothing', async () => {
  const { steps, calls } = fakeSource('commit')
  await assert.rejects(runSource(steps), { name: 'MigrationUncertainError' })
  assert.deepEqual(calls, ['offer', 'precopy', 'stop', 'snapshot', 'handOver', 'commit'])
})

const BASE = { digest: `sha256:${'b'.repeat(64)}` as Digest, size: 4096 }

test('source: with a pre-copied base, the snapshot is cut against it and both are released', async () => {
  const { steps, calls } = fakeSource()
  const released: string[] = []
  let against: unknown
  steps.precopy = async () => { calls.push('precopy'); return BASE }
  steps.snapshot = async base => { against = base; return { ...SNAPSHOT, base: BASE.digest } }
  steps.release = async s => { released.push(s.digest) }
  const phases: string[] = []
  const report = await runSource(steps, e => phases.push(e.phase))
  assert.deepEqual(against, BASE)
  assert.deepEqual(report.base, BASE)
  assert.deepEqual(phases.slice(0, 3), ['prefetch', 'precopy', 'stop'])
  assert.deepEqual(released.sort(), [BASE.digest, SNAPSHOT.digest].sort())
})

test('source: a failure after a pre-copy releases the base too and restarts the automaton', async () => {
  const { steps } = fakeSource('handOver')
  const released: string[] = []
  steps.precopy = async () => BASE
  steps.snapshot = async () => ({ ...SNAPSHOT, base: BASE.digest })
  steps.release = async s => { released.push(s.digest) }
  await assert.rejects(runSource(steps), { name: 'MigrationFailedError' })
  assert.deepEqual(released.sort(), [BASE.digest, SNAPSHOT.digest].sort())
})

test('source: a restart that fails too is reported with both causes', async () => {
  const { steps } = fakeSource('handOver')
  steps.restart = async () => { throw new Error('runc is gone') }
  await assert.rejects(runSource(steps), (err: Error & { restarted?: boolean }) => {
    assert.equal(err.name, 'MigrationFailedError')
    assert.equal(err.restarted, false)
    assert.match(err.message, /handOver failed.*runc is gone.*state directory is kept/)
    return true
  })
})

type TargetStep = keyof TargetSteps<unknown>

function fakeTarget (failAt?: TargetStep): { steps: TargetSteps<unknown>, calls: string[] } {
  const calls: string[] = []
  const step = <T>(name: TargetStep, value: T) => async (): Promise<T> => {
    calls.push(name)
    if (name === failAt) throw new Error(`${name} failed`)
    return value
  }
  return {
    calls,
    steps: {
      check: step('check', undefined),
      prefetch: step('prefetch', { fetchedBytes: 0, fromPeers: {} }),
      ready: step('ready', undefined),
      awaitSnapshot: step('awaitSnapshot', { kind: 'snapshot' as const, snapshot: SNAPSHOT }),
      precopy: step('precopy', undefined),
      receive: step('receive', 1024),
      restore: step('restore', undefined),
      start: step('start', undefined),
      started: step('started', undefined),
      awaitCommit: step('awaitCommit', undefined),
      done: step('done', undefined),
      undo: step('undo', undefined),
      refuse: step('refuse', undefined),
      finish: step('finish', undefined)
    }
  }
}

test('target: every step in order, DONE after COMMIT, nothing undone', async () => {
  const { steps, calls } = fakeTarget()
  await runTarget({}, steps)
  assert.deepEqual(calls, ['check', 'prefetch', 'ready', 'awaitSnapshot', 'receive', 'restore', 'start', 'started', 'awaitCommit', 'finish', 'done'])
})

const order: TargetStep[] = ['check', 'prefetch', 'ready', 'awaitSnapshot', 'receive', 'restore', 'start', 'started', 'awaitCommit']
for (const failAt of order) {
  test(`target: a failure at ${failAt} is told to the source and undoes what was made`, async () => {
    const { steps, calls } = fakeTarget(failAt)
    await assert.rejects(runTarget({}, steps), new RegExp(`${failAt} failed`))
    const made = order.indexOf(failAt) >= order.indexOf('restore')
    const upTo = order.slice(0, order.indexOf(failAt) + 1)
    assert.deepEqual(calls, [...upTo, 'refuse', ...(made ? ['undo'] : []), 'finish'])
  })
}

test('target: COMMIT received but DONE lost keeps the automaton', async () => {
  const { steps, calls } = fakeTarget('done')
  await runTarget({}, steps)
  assert.equal(calls.includes('undo'), false)
})

test('target: a BASE is pre-copied before the SNAPSHOT; a failure after it undoes the unpacked base', async () => {
  const frames = [{ kind: 'base' as const, snapshot: SNAPSHOT }, { kind: 'snapshot' as const, snapshot: { ...SNAPSHOT, base: SNAPSHOT.digest } }]
  const ok = fakeTarget()
  let n = 0
  ok.steps.awaitSnapshot = async () => { ok.calls.push('awaitSnapshot'); return frames[n++] ?? frames[1] as (typeof frames)[1] }
  await runTarget({}, ok.steps)
  assert.deepEqual(ok.calls.slice(0, 7), ['check', 'prefetch', 'ready', 'awaitSnapshot', 'precopy', 'awaitSnapshot', 'receive'])

  const failed = fakeTarget('receive')
  let m = 0
  failed.steps.awaitSnapshot = async () => frames[m++] ?? frames[1] as (typeof frames)[1]
  await assert.rejects(runTarget({}, failed.steps), /receive failed/)
  assert.ok(failed.calls.includes('undo'))
})
