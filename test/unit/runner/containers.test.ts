/** Container records on disk and the runner's paths. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ContainerRecords, RunnerPaths, type ContainerRecord } from '../../../src/runner/containers.ts'
import { checkContainerId } from '../../../src/runner/runtime.ts'

describe('ContainerRecords', () => {
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'runner-records-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  const record = (id: string, created: string): ContainerRecord => ({
    id, kind: 'image', image: 'library/busybox:1', bundle: `/b/${id}`, created, detached: false, runcRoot: '/r'
  })

  it('puts, gets, lists oldest first and removes', async () => {
    const records = new ContainerRecords(join(dir, 'containers'))
    assert.deepEqual(await records.list(), [])
    await records.put(record('b', '2024-01-02T00:00:00.000Z'))
    await records.put(record('a', '2024-01-01T00:00:00.000Z'))
    await records.put({ ...record('b', '2024-01-02T00:00:00.000Z'), exitCode: 3 })
    await writeFile(join(dir, 'containers', 'junk.json'), '{"not":"a record"}')
    assert.deepEqual((await records.list()).map(r => [r.id, r.exitCode]), [['a', undefined], ['b', 3]])
    assert.equal((await records.get('a'))?.bundle, '/b/a')
    assert.equal(await records.get('zzz'), undefined)
    assert.equal(await records.remove('a'), true)
    assert.equal(await records.remove('a'), false)
    assert.deepEqual((await records.list()).map(r => r.id), ['b'])
  })

  it('validates container ids and places bundles and logs under <data-dir>/runner', () => {
    for (const id of ['abc', 'a.b-c_d+e', '0'.repeat(128)]) assert.equal(checkContainerId(id), id)
    for (const id of ['', '../x', 'a/b', '.hidden', '0'.repeat(129), 'a b']) assert.throws(() => checkContainerId(id), { name: 'InvalidRunRequestError' }, id)
    const paths = new RunnerPaths('/data')
    assert.equal(paths.bundle('x1'), '/data/runner/bundles/x1')
    assert.equal(paths.log('x1'), '/data/runner/logs/x1.log')
    assert.equal(paths.runcRoot, '/data/runner/runc')
    assert.throws(() => paths.bundle('../../etc'), { name: 'InvalidRunRequestError' })
  })
})
