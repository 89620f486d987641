/** User resolution (docs/formats.md "Manifests, indexes and configs" `User`, with runc's GetExecUser semantics). */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveUser, resolveUserFrom } from '../../../src/runner/user.ts'

const PASSWD = [
  '# comment',
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1001:App:/home/app:/bin/sh',
  'other:x:1002:1002::/srv:/bin/false',
  'broken line'
].join('\n')
const GROUP = 'root:x:0:\napp:x:1001:\nwheel:x:10:app,other\naudio:x:29:app\nstaff:x:50:\n'

describe('resolveUserFrom', () => {
  it('resolves every form of User', () => {
    assert.deepEqual(resolveUserFrom('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [], home: '/root' })
    assert.deepEqual(resolveUserFrom('app', PASSWD, GROUP), { uid: 1000, gid: 1001, additionalGids: [10, 29], home: '/home/app' })
    assert.deepEqual(resolveUserFrom('1000', PASSWD, GROUP), { uid: 1000, gid: 1001, additionalGids: [10, 29], home: '/home/app' })
    assert.deepEqual(resolveUserFrom('app:staff', PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' })
    assert.deepEqual(resolveUserFrom('app:77', PASSWD, GROUP), { uid: 1000, gid: 77, additionalGids: [], home: '/home/app' })
    assert.deepEqual(resolveUserFrom('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [] })
    assert.deepEqual(resolveUserFrom('4242:4343', PASSWD, GROUP), { uid: 4242, gid: 4343, additionalGids: [] })
    assert.deepEqual(resolveUserFrom('5:staff', undefined, GROUP), { uid: 5, gid: 50, additionalGids: [] })
    assert.deepEqual(resolveUserFrom('7:8', undefined, undefined), { uid: 7, gid: 8, additionalGids: [] })
  })

  it('rejects unknown names', () => {
    assert.throws(() => resolveUserFrom('ghost', PASSWD, GROUP), { name: 'UserNotFoundError' })
    assert.throws(() => resolveUserFrom('app:ghosts', PASSWD, GROUP), { name: 'UserNotFoundError' })
    assert.throws(() => resolveUserFrom('app', undefined, undefined), { name: 'UserNotFoundError' })
    assert.throws(() => resolveUserFrom('-1', PASSWD, GROUP), { name: 'UserNotFoundError' })
  })
})

describe('resolveUser', () => {
  let rootfs: string
  let outside: string

  before(async () => {
    outside = await mkdtemp(join(tmpdir(), 'runner-user-host-'))
    rootfs = await mkdtemp(join(tmpdir(), 'runner-user-'))
    await mkdir(join(rootfs, 'real-etc'))
    await writeFile(join(rootfs, 'real-etc/passwd'), PASSWD)
    await writeFile(join(rootfs, 'real-etc/group'), GROUP)
    // /etc is an absolute symlink: it must resolve inside the rootfs, not to the host's /etc.
    await symlink('/real-etc', join(rootfs, 'etc'))
  })
  after(async () => {
    await rm(rootfs, { recursive: true, force: true })
    await rm(outside, { recursive: true, force: true })
  })

  it('reads /etc/passwd and /etc/group inside the rootfs', async () => {
    assert.equal((await resolveUser(rootfs, 'other')).uid, 1002)
    assert.deepEqual((await resolveUser(rootfs, 'other')).additionalGids, [10])
  })

  it('treats absent files as empty', async () => {
    assert.deepEqual(await resolveUser(outside, '12:34'), { uid: 12, gid: 34, additionalGids: [] })
    await assert.rejects(resolveUser(outside, 'root'), { name: 'UserNotFoundError' })
  })
})
