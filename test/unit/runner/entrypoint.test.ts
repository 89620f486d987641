/** Finding the process's executable as runc's exec.LookPath would, inside the rootfs and bind mounts. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findExecutable } from '../../../src/runner/entrypoint.ts'

describe('findExecutable', () => {
  let rootfs: string
  let host: string

  before(async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'runner-exe-'))
    host = await mkdtemp(join(tmpdir(), 'runner-exe-host-'))
    await mkdir(join(rootfs, 'bin'))
    await mkdir(join(rootfs, 'usr/local/bin'), { recursive: true })
    await writeFile(join(rootfs, 'bin/tool'), '#!/bin/sh\n', { mode: 0o755 })
    await writeFile(join(rootfs, 'bin/data'), 'not executable', { mode: 0o644 })
    await symlink('tool', join(rootfs, 'bin/alias'))
    await symlink('/usr/local/bin/real', join(rootfs, 'bin/abs-alias'))
    await writeFile(join(rootfs, 'usr/local/bin/real'), 'x', { mode: 0o700 })
    await symlink('/nix/store/aaaa-pkg/bin/prog', join(rootfs, 'bin/into-mount'))
    // The host's copy of the tool must not count: the rootfs has none at /sbin.
    await mkdir(join(host, 'bin'))
    await writeFile(join(host, 'bin/prog'), 'x')
    await chmod(join(host, 'bin/prog'), 0o755)
  })
  after(async () => {
    await rm(rootfs, { recursive: true, force: true })
    await rm(host, { recursive: true, force: true })
  })

  const env = ['PATH=/sbin:/bin:/usr/local/bin']
  const binds = () => [{ destination: '/nix/store/aaaa-pkg', source: host }]

  it('searches PATH and follows symlinks inside the rootfs', async () => {
    assert.equal(await findExecutable(rootfs, 'tool', env, '/'), '/bin/tool')
    assert.equal(await findExecutable(rootfs, 'alias', env, '/'), '/bin/alias')
    assert.equal(await findExecutable(rootfs, 'abs-alias', env, '/'), '/bin/abs-alias')
    assert.equal(await findExecutable(rootfs, 'real', env, '/'), '/usr/local/bin/real')
    assert.equal(await findExecutable(rootfs, './tool', env, '/bin'), '/bin/tool')
    assert.equal(await findExecutable(rootfs, '../bin/tool', env, '/usr'), '/bin/tool')
  })

  it('looks through bind mounts, directly or via a symlink', async () => {
    assert.equal(await findExecutable(rootfs, '/nix/store/aaaa-pkg/bin/prog', env, '/', binds()), '/nix/store/aaaa-pkg/bin/prog')
    assert.equal(await findExecutable(rootfs, 'into-mount', env, '/', binds()), '/bin/into-mount')
    await assert.rejects(findExecutable(rootfs, 'into-mount', env, '/'), { name: 'EntrypointNotFoundError' })
  })

  it('rejects what runc could not exec', async () => {
    for (const arg of ['nope', '/bin/nope', 'data', '/bin', '', 'bin/tool']) {
      await assert.rejects(findExecutable(rootfs, arg, env, '/usr'), { name: 'EntrypointNotFoundError' }, arg)
    }
    await assert.rejects(findExecutable(rootfs, 'tool', ['HOME=/'], '/'), { name: 'EntrypointNotFoundError' })
  })
})
