/**
 * runImage with real runc: a busybox-static image runs in the foreground (output and exit code come back),
 * image Env/User/WorkingDir/Volumes reach the process, a detached run is listed, logged, stopped and removed.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { Store } from '../../../src/store/store.ts'
import { RunnerPaths } from '../../../src/runner/containers.ts'
import { listContainers, removeContainer, stopContainer } from '../../../src/runner/manage.ts'
import { runImage } from '../../../src/runner/run.ts'
import { Runtime } from '../../../src/runner/runtime.ts'
import { busyboxLayer, deleteAllContainers, ingestLayout, writeLayout } from './helpers/images.ts'

function collector (): { stream: PassThrough, text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

describe('runImage with runc', () => {
  let dir: string
  let dataDir: string
  let store: Store

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-run-'))
    dataDir = join(dir, 'data')
    store = await Store.open(join(dataDir, 'oci'))
    const layout = join(dir, 'layout')
    await writeLayout(layout, 't', {
      layers: [await busyboxLayer()],
      config: { Env: ['GREETING=hello', 'PATH=/bin'], Cmd: ['sh', '-c', 'echo default command'], User: 'app', WorkingDir: '/home/app', Volumes: { '/data': {} } }
    })
    await ingestLayout(layout, 't', store, 'test/busybox:1')
  })
  after(async () => {
    await deleteAllContainers(new RunnerPaths(dataDir).runcRoot)
    await rm(dir, { recursive: true, force: true })
  })

  it('runs in the foreground and returns output and exit code', async () => {
    const out = collector()
    const err = collector()
    const result = await runImage({
      store,
      dataDir,
      image: 'test/busybox:1',
      command: ['sh', '-c', 'echo to stdout; echo to stderr >&2; exit 42'],
      io: { stdout: out.stream, stderr: err.stream },
      remove: true
    })
    assert.equal(result.exitCode, 42)
    assert.equal(out.text(), 'to stdout\n')
    assert.equal(err.text(), 'to stderr\n')
    await assert.rejects(access(result.bundle), { code: 'ENOENT' })
    assert.deepEqual(await listContainers({ dataDir }), [])
  })

  it('gives the process the image Cmd, Env, User, WorkingDir and Volumes, with overrides', async () => {
    const plain = collector()
    const first = await runImage({ store, dataDir, image: 'test/busybox:1', io: { stdout: plain.stream }, remove: true })
    assert.equal(first.exitCode, 0)
    assert.equal(plain.text(), 'default command\n')

    const out = collector()
    const script = 'echo "$GREETING $EXTRA $(id -u):$(id -g) $(id -G) $(pwd) $HOME"; grep " /data " /proc/mounts'
    const result = await runImage({
      store,
      dataDir,
      image: 'test/busybox:1',
      command: ['sh', '-c', script],
      env: ['EXTRA=extra'],
      io: { stdout: out.stream },
      remove: true
    })
    assert.equal(result.exitCode, 0)
    const [line, mount] = out.text().split('\n')
    assert.equal(line, 'hello extra 1000:1000 1000 2000 /home/app /home/app')
    assert.match(mount ?? '', /^none \/data tmpfs rw,nosuid,nodev,noexec,relatime /)

    const root = collector()
    await runImage({ store, dataDir, image: 'test/busybox:1', user: '0:0', workingDir: '/tmp', command: ['sh', '-c', 'echo $(id -u) $(pwd)'], io: { stdout: root.stream }, remove: true })
    assert.equal(root.text(), '0 /tmp\n')
  })

  it('runs detached: listed as running, output in its log, stopped, then removed', async () => {
    const result = await runImage({ store, dataDir, image: 'test/busybox:1', id: 'detached-1', detach: true, command: ['sh', '-c', 'trap "exit 0" TERM; echo started; sleep 60 & wait'] })
    assert.equal(result.exitCode, undefined)
    const listed = await listContainers({ dataDir })
    assert.deepEqual(listed.map(c => [c.id, c.status, c.image]), [['detached-1', 'running', 'test/busybox:1']])
    assert.ok((listed[0]?.pid ?? 0) > 0)
    const log = result.record.log ?? ''
    for (let i = 0; i < 100 && !(await readFile(log, 'utf8')).includes('started'); i++) await sleep(50)
    assert.equal(await readFile(log, 'utf8'), 'started\n')

    await assert.rejects(removeContainer({ dataDir, id: 'detached-1' }), { name: 'InvalidRunRequestError' })
    assert.equal(await stopContainer({ dataDir, id: 'detached-1', timeoutMs: 5000 }), true)
    assert.equal((await listContainers({ dataDir }))[0]?.status, 'stopped')
    assert.equal(await stopContainer({ dataDir, id: 'detached-1' }), false)
    await removeContainer({ dataDir, id: 'detached-1' })
    assert.deepEqual(await listContainers({ dataDir }), [])
    assert.deepEqual(await readdir(new RunnerPaths(dataDir).bundles), [])
    assert.deepEqual(await new Runtime({ root: new RunnerPaths(dataDir).runcRoot }).list(), [])
    await assert.rejects(removeContainer({ dataDir, id: 'detached-1' }), { name: 'ContainerNotFoundError' })
  })

  it('keeps the record of a foreground run without remove, with its exit code', async () => {
    const result = await runImage({ store, dataDir, image: 'test/busybox:1', id: 'kept', command: ['sh', '-c', 'exit 3'], io: { stdout: collector().stream } })
    assert.equal(result.exitCode, 3)
    const [kept] = await listContainers({ dataDir })
    assert.equal(kept?.status, 'stopped')
    assert.equal(kept?.exitCode, 3)
    await assert.rejects(runImage({ store, dataDir, image: 'test/busybox:1', id: 'kept', command: ['true'] }), { name: 'InvalidRunRequestError' })
    await removeContainer({ dataDir, id: 'kept' })
    await assert.rejects(access(result.bundle), { code: 'ENOENT' })
  })
})
