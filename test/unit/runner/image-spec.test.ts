/** Image config -> config.json (docs/formats.md "Runtime config") and the Nix closure spec. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ImageConfig } from '../../../src/oci/types.ts'
import { imageSpec, processArgs, processEnv } from '../../../src/runner/image-spec.ts'
import { closureMounts, closureSpec, isStorePath } from '../../../src/runner/closure.ts'
import { DEFAULT_PATH } from '../../../src/runner/spec.ts'

function config (c: NonNullable<ImageConfig['config']>): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config: c, rootfs: { type: 'layers', diff_ids: [] } }
}

describe('processArgs and processEnv', () => {
  it('joins Entrypoint and Cmd with docker-run style overrides', () => {
    const c = config({ Entrypoint: ['/bin/app', '--serve'], Cmd: ['--port', '80'] })
    assert.deepEqual(processArgs(c), ['/bin/app', '--serve', '--port', '80'])
    assert.deepEqual(processArgs(c, { command: ['--port', '90'] }), ['/bin/app', '--serve', '--port', '90'])
    assert.deepEqual(processArgs(c, { entrypoint: ['/bin/sh'] }), ['/bin/sh'])
    assert.deepEqual(processArgs(c, { entrypoint: ['/bin/sh'], command: ['-c', 'true'] }), ['/bin/sh', '-c', 'true'])
    assert.deepEqual(processArgs(config({ Cmd: ['sh'] })), ['sh'])
    assert.throws(() => processArgs(config({})), { name: 'NoCommandError' })
    assert.throws(() => processArgs(config({ Entrypoint: null, Cmd: null })), { name: 'NoCommandError' })
  })

  it('adds PATH only when the image has none and applies overrides last', () => {
    assert.deepEqual(processEnv(['A=1']), [`PATH=${DEFAULT_PATH}`, 'A=1'])
    assert.deepEqual(processEnv(['PATH=/x', 'A=1', 'A=2']), ['PATH=/x', 'A=2'])
    assert.deepEqual(processEnv(['PATH=/x', 'A=1'], ['A=3', 'B=']), ['PATH=/x', 'A=3', 'B='])
    assert.throws(() => processEnv(['NOEQUALS']), { name: 'InvalidRunRequestError' })
    assert.throws(() => processEnv([], ['=x']), { name: 'InvalidRunRequestError' })
  })
})

describe('imageSpec', () => {
  let rootfs: string

  before(async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'runner-spec-'))
    await mkdir(join(rootfs, 'etc'))
    await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n')
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nweb:x:33:\nlog:x:4:web\n')
  })
  after(async () => { await rm(rootfs, { recursive: true, force: true }) })

  it('builds on the runc spec defaults', async () => {
    const spec = await imageSpec(config({ Cmd: ['sh'] }), rootfs)
    assert.equal(spec.process.terminal, false)
    assert.deepEqual(spec.process.args, ['sh'])
    assert.deepEqual(spec.process.env, [`PATH=${DEFAULT_PATH}`, 'HOME=/root'])
    assert.equal(spec.process.cwd, '/')
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0 })
    assert.deepEqual(spec.root, { path: 'rootfs', readonly: false })
    assert.equal(spec.hostname, 'emergence')
    assert.deepEqual(spec.linux.namespaces.map(n => n.type), ['pid', 'network', 'ipc', 'uts', 'mount'])
    assert.deepEqual(spec.mounts.map(m => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'])
    assert.equal(spec.annotations?.['org.opencontainers.image.architecture'], 'amd64')
  })

  it('maps WorkingDir, User, Env, Volumes and the options', async () => {
    const c = config({ Cmd: ['run'], WorkingDir: 'srv', User: 'web', Env: ['HOME=/custom', 'X=1'], Volumes: { '/data': {}, '/cache/': {} } })
    const spec = await imageSpec(c, rootfs, {
      env: ['X=2'],
      mounts: [{ destination: '/host', type: 'bind', source: '/srv/host', options: ['rbind', 'ro'] }],
      hostname: 'box',
      network: 'host',
      readonlyRootfs: true
    })
    assert.equal(spec.process.cwd, '/srv')
    assert.deepEqual(spec.process.user, { uid: 33, gid: 33, additionalGids: [4] })
    assert.deepEqual(spec.process.env, [`PATH=${DEFAULT_PATH}`, 'HOME=/custom', 'X=2'])
    assert.deepEqual(spec.mounts.slice(7), [
      { destination: '/cache', type: 'tmpfs', source: 'none', options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'] },
      { destination: '/data', type: 'tmpfs', source: 'none', options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'] },
      { destination: '/host', type: 'bind', source: '/srv/host', options: ['rbind', 'ro'] }
    ])
    assert.equal(spec.hostname, 'box')
    assert.ok(!spec.linux.namespaces.some(n => n.type === 'network'))
    assert.equal(spec.root.readonly, true)
    assert.deepEqual((await imageSpec(c, rootfs, { user: '5:6' })).process.user, { uid: 5, gid: 6 })
    await assert.rejects(imageSpec(c, rootfs, { user: 'nobody' }), { name: 'UserNotFoundError' })
  })
})

describe('closureSpec', () => {
  const a = '/nix/store/0c6ssb6d4a6jz5vjz1m2v8ggxgkhw0b5-hello-2.12'
  const b = '/nix/store/9krlzvny65gdc8s7kpb6lkx8cd02c25b-glibc-2.37-8'

  it('recognises store paths', () => {
    assert.ok(isStorePath(a))
    assert.ok(!isStorePath('/nix/store/0c6ssb6d4a6jz5vjz1m2v8ggxgkhw0b5'))
    assert.ok(!isStorePath('/nix/store/0c6ssb6d4a6jz5vjz1m2v8ggxgkhw0be-x'), 'e is not a nix32 digit')
    assert.ok(!isStorePath(`${a}/bin/hello`))
    assert.ok(!isStorePath('/nix/store/0c6ssb6d4a6jz5vjz1m2v8ggxgkhw0b5-../../etc'))
  })

  it('mounts exactly the closure, read-only, on a read-only root', () => {
    assert.deepEqual(closureMounts([b, a, b], '/other/store'), [
      { destination: a, type: 'bind', source: '/other/store/0c6ssb6d4a6jz5vjz1m2v8ggxgkhw0b5-hello-2.12', options: ['rbind', 'ro', 'nosuid', 'nodev'] },
      { destination: b, type: 'bind', source: '/other/store/9krlzvny65gdc8s7kpb6lkx8cd02c25b-glibc-2.37-8', options: ['rbind', 'ro', 'nosuid', 'nodev'] }
    ])
    const spec = closureSpec({ closure: [a, b], args: [`${a}/bin/hello`], env: ['LANG=C'], user: 'nobody' })
    assert.equal(spec.root.readonly, true)
    assert.deepEqual(spec.process.args, [`${a}/bin/hello`])
    assert.deepEqual(spec.process.env, [`PATH=${DEFAULT_PATH}`, 'LANG=C', 'HOME=/'])
    assert.deepEqual(spec.process.user, { uid: 65534, gid: 65534 })
    assert.deepEqual(spec.mounts.slice(7).map(m => m.destination), ['/tmp', a, b])
    assert.throws(() => closureSpec({ closure: [a], args: [] }), { name: 'InvalidRunRequestError' })
  })
})
