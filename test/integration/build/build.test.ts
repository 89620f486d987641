/**
 * `emergence image build` with the real tools: an image built on a busybox base runs under runc, skopeo reads its
 * export, umoci unpacks it as our unpacker does; two builds in two data dirs and a build by an unprivileged user
 * give the same digest; symlinks are stored, never followed.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createGunzip } from 'node:zlib'
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { extract } from 'tar-stream'
import { CLI, runCommand, tool } from '../../helpers/tools.ts'
import { diffTrees, snapshotTree } from '../runner/helpers/tree.ts'
import { BASE_REF, builtDigest, busyboxLayout, cliOk, importBusybox, join, openImage, unpackedTree } from './helpers.ts'

/** The headers of a gzip layer blob, in order. */
async function layerHeaders (file: string): Promise<Array<{ name: string, type: string, uid: number, gid: number, mode: number, linkname: string | null, mtime: number }>> {
  const out: Array<{ name: string, type: string, uid: number, gid: number, mode: number, linkname: string | null, mtime: number }> = []
  const parser = extract()
  const reading = (async () => {
    for await (const entry of parser) {
      const h = entry.header
      out.push({ name: h.name, type: h.type ?? 'file', uid: h.uid ?? -1, gid: h.gid ?? -1, mode: h.mode ?? 0, linkname: h.linkname ?? null, mtime: h.mtime?.getTime() ?? -1 })
      entry.resume()
    }
  })()
  await pipeline(createReadStream(file), createGunzip(), parser)
  await reading
  return out
}

describe('image build', () => {
  let work = ''
  let data = ''
  let site = ''
  let layout = ''

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'emergence-build-'))
    await chmod(work, 0o755)
    data = join(work, 'data')
    layout = await busyboxLayout(join(work, 'busybox'))
    await importBusybox(layout, data)
    site = join(work, 'site')
    await mkdir(join(site, 'sub'), { recursive: true })
    await writeFile(join(site, 'hello.txt'), 'hello from a built image\n')
    await writeFile(join(site, 'sub', 'tool'), '#!/bin/sh\necho tool\n')
    await chmod(join(site, 'sub', 'tool'), 0o4755)
    await link(join(site, 'hello.txt'), join(site, 'sub', 'hard'))
    await symlink('/etc/shadow', join(site, 'shadow-link'))
    await symlink('../../../../etc', join(site, 'up-link'))
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  const buildArgs = (tag: string): string[] => ['image', 'build', '--from', BASE_REF, '--add', `${join(work, 'site')}:/srv`,
    '--cmd', '["-c","cat /srv/hello.txt; ls -l /srv/sub/tool"]', '--env', 'GREETING=hi', '--label', 'org.example=1', '-t', tag]

  it('builds on a busybox base; the image runs under runc and references the base layer', async () => {
    await cliOk(data, buildArgs('built/app:1'))
    const run = await cliOk(data, ['run', '--rm', 'built/app:1'])
    assert.match(run.stdout, /^hello from a built image\n-rwsr-xr-x +1 0 +0 .*\/srv\/sub\/tool\n$/)
    const { image } = await openImage(data, 'built/app:1')
    const { image: base } = await openImage(data, BASE_REF)
    assert.deepEqual(image.manifest.layers.slice(0, base.manifest.layers.length), base.manifest.layers)
    assert.equal(image.manifest.layers.length, base.manifest.layers.length + 1)
    assert.deepEqual(image.config.rootfs.diff_ids.slice(0, -1), base.config.rootfs.diff_ids)
    assert.equal(image.config.created, '1970-01-01T00:00:00Z')
    assert.equal(image.config.history?.length, (base.config.history?.length ?? 0) + 1)
    assert.deepEqual(image.config.config?.Entrypoint, ['/bin/sh'])
    assert.ok(image.config.config?.Env?.includes('GREETING=hi'))
    assert.deepEqual(image.config.config?.Labels, { 'org.example': '1' })
  })

  it('writes root-owned, sorted entries with fixed mtimes; symlinks are links, never followed', async () => {
    const { store, image } = await openImage(data, 'built/app:1')
    const layer = image.manifest.layers.at(-1) ?? assert.fail()
    const headers = await layerHeaders(store.paths.blob(layer.digest))
    assert.deepEqual(headers.map(h => h.name), ['srv/', 'srv/hello.txt', 'srv/shadow-link', 'srv/sub/', 'srv/sub/hard', 'srv/sub/tool', 'srv/up-link'])
    assert.ok(headers.every(h => h.uid === 0 && h.gid === 0 && h.mtime === 0))
    assert.deepEqual(headers.find(h => h.name === 'srv/shadow-link'), { name: 'srv/shadow-link', type: 'symlink', uid: 0, gid: 0, mode: 0o777, linkname: '/etc/shadow', mtime: 0 })
    assert.equal(headers.find(h => h.name === 'srv/sub/hard')?.type, 'link')
    assert.equal(headers.find(h => h.name === 'srv/sub/tool')?.mode, 0o4755)
  })

  it('is read by skopeo and unpacked by umoci exactly as by our unpacker', async () => {
    const layout = join(work, 'export')
    await cliOk(data, ['image', 'export', 'built/app:1', layout, '--as', 'app'])
    const inspected = JSON.parse(await tool('skopeo', ['inspect', `oci:${layout}:app`])) as { Layers: string[], Env: string[], Labels: Record<string, string> }
    const { image } = await openImage(data, 'built/app:1')
    assert.deepEqual(inspected.Layers, image.manifest.layers.map(l => l.digest))
    assert.deepEqual(inspected.Labels, { 'org.example': '1' })
    const bundle = join(work, 'umoci-bundle')
    await tool('umoci', ['unpack', '--image', `${layout}:app`, bundle])
    const theirs = await snapshotTree(join(bundle, 'rootfs'))
    const ours = await unpackedTree(data, 'built/app:1', join(work, 'ours'))
    assert.deepEqual(diffTrees(theirs, ours), [])
    assert.equal(ours.get('srv/shadow-link')?.target, '/etc/shadow')
  })

  it('gives the same digest in another data dir and as an unprivileged user; SOURCE_DATE_EPOCH changes it', async () => {
    const first = builtDigest(await cliOk(data, buildArgs('built/app:2')))
    const other = join(work, 'other')
    await importBusybox(layout, other)
    assert.equal(builtDigest(await cliOk(other, buildArgs('built/app:1'))), first)
    const nobody = join(work, 'nobody')
    await mkdir(nobody, { mode: 0o777 })
    await chmod(nobody, 0o777)
    await importBusybox(layout, nobody)
    await runCommand('chown', ['-R', '65534:65534', nobody])
    const asNobody = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', CLI, '--data-dir', nobody, ...buildArgs('built/app:1')])
    assert.equal(asNobody.code, 0, asNobody.stderr)
    assert.equal(builtDigest(asNobody), first)
    const later = await cliOk(data, buildArgs('built/app:3'), { SOURCE_DATE_EPOCH: '1700000000' })
    assert.notEqual(builtDigest(later), first)
    assert.equal((await openImage(data, 'built/app:3')).image.config.created, '2023-11-14T22:13:20Z')
  })

  it('builds from scratch with zstd, a tar and --chown', async () => {
    const tarFile = join(work, 'files.tar')
    await tool('tar', ['-cf', tarFile, '-C', site, 'hello.txt', 'sub'])
    await cliOk(data, ['image', 'build', '--add', `${tarFile}:/opt/files`, '--chown', '1000:100', '--compression', 'zstd',
      '--entrypoint', '/opt/files/sub/tool', '-t', 'built/scratch:1'])
    const { image } = await openImage(data, 'built/scratch:1')
    assert.equal(image.manifest.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd')
    const tree = await unpackedTree(data, 'built/scratch:1', join(work, 'scratch-rootfs'))
    assert.deepEqual(tree.get('opt/files/hello.txt')?.owner, '1000:100')
    assert.deepEqual(tree.get('opt/files/sub/tool')?.mode, '4755')
    assert.deepEqual(tree.get('opt')?.owner, '1000:100')
  })
})
