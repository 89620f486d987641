/**
 * The runner's typed errors with real runc: runc missing from PATH, an image for another platform, a missing
 * entrypoint, an unknown user, no command, runc refusing a bundle, unknown containers. Nothing is left behind.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { Store } from '../../../src/store/store.ts'
import { hostPlatform } from '../../../src/oci/platform.ts'
import { RunnerPaths } from '../../../src/runner/containers.ts'
import { listContainers } from '../../../src/runner/manage.ts'
import { runImage } from '../../../src/runner/run.ts'
import { Runtime } from '../../../src/runner/runtime.ts'
import { busyboxLayer, deleteAllContainers, ingestLayout, writeLayout } from './helpers/images.ts'

describe('runner errors', () => {
  let dir: string
  let dataDir: string
  let store: Store

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-errors-'))
    dataDir = join(dir, 'data')
    store = await Store.open(join(dataDir, 'oci'))
    const layer = await busyboxLayer()
    const other = hostPlatform().architecture === 'arm64' ? 'amd64' : 'arm64'
    await writeLayout(join(dir, 'ok'), 't', { layers: [layer], config: { Cmd: ['sh', '-c', 'true'] } })
    await ingestLayout(join(dir, 'ok'), 't', store, 'test/ok:1')
    await writeLayout(join(dir, 'foreign'), 't', { layers: [layer], architecture: other, config: { Cmd: ['sh'] } })
    await ingestLayout(join(dir, 'foreign'), 't', store, 'test/foreign:1')
    await writeLayout(join(dir, 'nocmd'), 't', { layers: [layer] })
    await ingestLayout(join(dir, 'nocmd'), 't', store, 'test/nocmd:1')
  })
  after(async () => {
    await deleteAllContainers(new RunnerPaths(dataDir).runcRoot)
    await rm(dir, { recursive: true, force: true })
  })

  async function assertNothingLeft (): Promise<void> {
    assert.deepEqual(await readdir(new RunnerPaths(dataDir).bundles).catch(() => []), [])
    assert.deepEqual(await listContainers({ dataDir }), [])
  }

  it('throws RuncNotFoundError when runc is not on PATH, before unpacking anything', async () => {
    await assert.rejects(runImage({ store, dataDir, image: 'test/ok:1', path: join(dir, 'empty-bin') + ':/nonexistent' }), { name: 'RuncNotFoundError' })
    await assert.rejects(new Runtime({ root: join(dir, 'runc'), runc: 'runc-that-does-not-exist' }).list(), { name: 'RuncNotFoundError' })
    await assertNothingLeft()
  })

  it('throws PlatformMismatchError for an image built for another architecture', async () => {
    await assert.rejects(runImage({ store, dataDir, image: 'test/foreign:1' }), { name: 'PlatformMismatchError' })
    await assertNothingLeft()
  })

  it('throws EntrypointNotFoundError when the command is not in the rootfs', async () => {
    for (const command of [['/bin/nope'], ['nope'], ['/etc'], ['etc/passwd']]) {
      await assert.rejects(runImage({ store, dataDir, image: 'test/ok:1', command }), { name: 'EntrypointNotFoundError' }, command.join(' '))
    }
    // PATH is the container's: without /bin in it, `sh` is not found.
    await assert.rejects(runImage({ store, dataDir, image: 'test/ok:1', command: ['sh'], env: ['PATH=/usr/bin'] }), { name: 'EntrypointNotFoundError' })
    await assertNothingLeft()
  })

  it('throws UserNotFoundError and NoCommandError', async () => {
    await assert.rejects(runImage({ store, dataDir, image: 'test/ok:1', user: 'ghost' }), { name: 'UserNotFoundError' })
    await assert.rejects(runImage({ store, dataDir, image: 'test/ok:1', user: 'app:ghosts' }), { name: 'UserNotFoundError' })
    await assert.rejects(runImage({ store, dataDir, image: 'test/nocmd:1' }), { name: 'NoCommandError' })
    await assertNothingLeft()
  })

  it('throws RuncExitError when runc refuses the bundle, and cleans up', async () => {
    const stderr = new PassThrough()
    stderr.resume()
    await assert.rejects(
      runImage({ store, dataDir, image: 'test/ok:1', workingDir: '/bin/busybox', io: { stderr } }),
      (err: Error) => err.name === 'RuncExitError' && /^runc run failed \(exit 1\): .*not a directory/.test(err.message)
    )
    await assertNothingLeft()
    assert.deepEqual(await new Runtime({ root: new RunnerPaths(dataDir).runcRoot }).list(), [])
  })

  it('throws ContainerNotFoundError for unknown containers', async () => {
    const runtime = new Runtime({ root: new RunnerPaths(dataDir).runcRoot })
    await assert.rejects(runtime.state('missing'), { name: 'ContainerNotFoundError' })
    await assert.rejects(runtime.kill('missing'), { name: 'ContainerNotFoundError' })
    await assert.rejects(runtime.delete('missing'), { name: 'ContainerNotFoundError' })
    await assert.rejects(runtime.state('../etc'), { name: 'InvalidRunRequestError' })
  })
})
