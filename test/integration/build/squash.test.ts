/**
 * `emergence image squash`: the squashed rootfs equals the unsquashed one (a layer with plain and opaque
 * whiteouts, owners set by --chown, a file that becomes a directory; a layer that writes through a symlinked
 * directory, keeps hard links to a file it replaces, adds a device node and a fifo), the squashed layer holds no
 * whiteouts, the squashed image is a base for a new build that runs under runc, and an unprivileged user squashes
 * to the same digest as root.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { writeTar } from '../../helpers/tar.ts'
import { CLI, runCommand, tool } from '../../helpers/tools.ts'
import { diffTrees, type NodeInfo } from '../runner/helpers/tree.ts'
import { BASE_REF, builtDigest, busyboxLayout, cliOk, importBusybox, join, openImage, unpackedTree } from './helpers.ts'

/** Squash sets every mtime to the build's epoch: compare everything else. */
function withoutTimes (tree: Map<string, NodeInfo>): Map<string, NodeInfo> {
  return new Map([...tree].map(([path, { mtime: _mtime, ...rest }]) => [path, rest]))
}

describe('image squash', () => {
  let work = ''
  let data = ''

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'emergence-squash-'))
    await chmod(work, 0o755)
    data = join(work, 'data')
    await importBusybox(await busyboxLayout(join(work, 'busybox')), data)
    const lower = join(work, 'lower')
    for (const dir of ['a/b/c', 'gone/sub', 'remade']) await mkdir(join(lower, dir), { recursive: true })
    for (const file of ['a/keep', 'a/b/c/deep', 'gone/sub/x', 'remade/old', 'becomes-dir', 'stays']) await writeFile(join(lower, file), `${file}\n`)
    await cliOk(data, ['image', 'build', '--from', BASE_REF, '--add', `${lower}:/data`, '--chown', '1000:100', '-t', 'sq/layered:1'])
    const upper = join(work, 'upper.tar')
    await writeTar(upper, [
      { name: 'data/a/', mode: 0o751 },
      { name: 'data/a/fresh', data: 'fresh\n' },
      { name: 'data/a/.wh..wh..opq', data: '' },
      { name: 'data/.wh.gone', data: '' },
      { name: 'data/remade/.wh..wh..opq', data: '' },
      { name: 'data/remade/new', data: 'new\n', mode: 0o600 },
      { name: 'data/becomes-dir/', mode: 0o700 },
      { name: 'data/becomes-dir/inner', data: 'inner\n' }
    ])
    await cliOk(data, ['image', 'build', '--from', 'sq/layered:1', '--add', upper, '--cmd', '["-c","ls /data"]', '-t', 'sq/layered:2'])
    const top = join(work, 'top.tar')
    await writeTar(top, [
      { name: 'data/ln', type: 'symlink', linkname: 'remade' },
      { name: 'data/ln/via-link', data: 'through a symlinked directory\n' },
      { name: 'data/hard', type: 'link', linkname: 'data/stays' },
      { name: 'data/hard2', type: 'link', linkname: 'data/hard' },
      { name: 'data/stays', data: 'replaced\n' },
      { name: 'data/null', type: 'character-device', mode: 0o666 },
      { name: 'data/fifo', type: 'fifo', mode: 0o600 }
    ])
    await cliOk(data, ['image', 'build', '--from', 'sq/layered:2', '--add', top, '-t', 'sq/layered:3'])
    await cliOk(data, ['image', 'squash', 'sq/layered:3', '-t', 'sq/flat:1'])
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('gives the rootfs of the unsquashed image, in one layer without whiteouts', async () => {
    const layered = await unpackedTree(data, 'sq/layered:3', join(work, 'layered-rootfs'))
    const flat = await unpackedTree(data, 'sq/flat:1', join(work, 'flat-rootfs'))
    assert.deepEqual(diffTrees(withoutTimes(layered), withoutTimes(flat)), [])
    assert.deepEqual([...flat.keys()].filter(p => p.startsWith('data/')).sort(), ['data/a', 'data/a/fresh', 'data/becomes-dir',
      'data/becomes-dir/inner', 'data/fifo', 'data/hard', 'data/hard2', 'data/ln', 'data/null', 'data/remade', 'data/remade/new',
      'data/remade/via-link', 'data/stays'])
    assert.equal(flat.get('data/hard')?.owner, '1000:100')
    assert.equal(flat.get('data/hard')?.hardLinks, 'data/hard,data/hard2')
    assert.equal(flat.get('data/stays')?.owner, '0:0')
    assert.equal(flat.get('data/null')?.type, 'char')
    assert.equal(flat.get('data/fifo')?.mode, '600')
    assert.equal(flat.get('data/a')?.mode, '751')
    const { store, image } = await openImage(data, 'sq/flat:1')
    assert.equal(image.manifest.layers.length, 1)
    assert.deepEqual(image.config.config?.Cmd, ['-c', 'ls /data'])
    const names = await tool('tar', ['-tzf', store.paths.blob(image.manifest.layers[0]?.digest ?? assert.fail())])
    assert.equal(names.split('\n').some(n => n.includes('.wh.')), false)
  })

  it('composes under a new build that runs', async () => {
    const more = join(work, 'more')
    await mkdir(more)
    await writeFile(join(more, 'note'), 'on top of a squashed base\n')
    await cliOk(data, ['image', 'build', '--from', 'sq/flat:1', '--add', `${more}:/more`, '--cmd', '["-c","cat /more/note; ls /data"]', '-t', 'sq/composed:1'])
    const run = await cliOk(data, ['run', '--rm', 'sq/composed:1'])
    assert.equal(run.stdout, 'on top of a squashed base\na\nbecomes-dir\nfifo\nhard\nhard2\nln\nnull\nremade\nstays\n')
  })

  it('gives the same digest when squashed again, and as an unprivileged user', async () => {
    const first = (await openImage(data, 'sq/flat:1')).image.manifestDescriptor.digest
    assert.equal(builtDigest(await cliOk(data, ['image', 'squash', 'sq/layered:3', '-t', 'sq/flat:2'])), first)
    const nobody = join(work, 'nobody')
    await tool('cp', ['-a', data, nobody])
    await runCommand('chown', ['-R', '65534:65534', nobody])
    const asNobody = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', CLI, '--data-dir', nobody, 'image', 'squash', 'sq/layered:3', '-t', 'sq/flat:nobody'])
    assert.equal(asNobody.code, 0, asNobody.stderr)
    assert.equal(builtDigest(asNobody), first)
  })
})
