/**
 * The umoci-built image of the unpack comparison: a base layer with every kind of entry (modes, owners,
 * symlinks, hard links, devices), a second layer of changes (whiteouts of files and directories, type changes)
 * and a hand-made third layer with an opaque whiteout; plus umoci's own unpack of it to compare with.
 */
import { chmod, chown, link, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { buildTar, run, umoci } from './images.ts'
import { stampTimes } from './tree.ts'

export async function populateBase (r: string): Promise<void> {
  await mkdir(join(r, 'etc'), { recursive: true })
  await writeFile(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n')
  await mkdir(join(r, 'a/b/c'), { recursive: true })
  await writeFile(join(r, 'a/b/c/deep'), 'deep\n')
  await writeFile(join(r, 'a/keep'), 'keep\n')
  await writeFile(join(r, 'big'), randomBytes(300_000))
  await writeFile(join(r, 'setuid'), '#!/bin/sh\n')
  await chmod(join(r, 'setuid'), 0o4755)
  await writeFile(join(r, 'setgid'), 'x')
  await chown(join(r, 'setgid'), 0, 50)
  await chmod(join(r, 'setgid'), 0o2711)
  await writeFile(join(r, 'secret'), 'nobody reads\n')
  await chmod(join(r, 'secret'), 0o000)
  await mkdir(join(r, 'tmp'))
  await chmod(join(r, 'tmp'), 0o1777)
  await mkdir(join(r, 'home/user'), { recursive: true })
  await writeFile(join(r, 'home/user/.profile'), 'export A=1\n')
  await chown(join(r, 'home/user/.profile'), 1000, 1000)
  await chown(join(r, 'home/user'), 1000, 1000)
  await chmod(join(r, 'home/user'), 0o700)
  await symlink('a/b/c/deep', join(r, 'rel-link'))
  await symlink('/a/keep', join(r, 'abs-link'))
  await symlink('/nowhere', join(r, 'dangling'))
  await symlink('a/b', join(r, 'dir-link'))
  await link(join(r, 'a/keep'), join(r, 'hard-keep'))
  await mkdir(join(r, 'dev'))
  await run('mknod', [join(r, 'dev/null'), 'c', '1', '3'])
  await run('mknod', [join(r, 'dev/loop9'), 'b', '7', '9'])
  await run('mknod', [join(r, 'fifo'), 'p'])
  await mkdir(join(r, 'gone/sub'), { recursive: true })
  await writeFile(join(r, 'gone/sub/x'), 'x')
  await mkdir(join(r, 'remade'))
  await writeFile(join(r, 'remade/old'), 'old')
  await writeFile(join(r, 'becomes-dir'), 'file')
  await mkdir(join(r, 'becomes-link'))
  await writeFile(join(r, 'becomes-link/inner'), 'inner')
}

export async function changeInLayer2 (r: string): Promise<void> {
  await rm(join(r, 'a/b/c/deep'))
  await rm(join(r, 'gone'), { recursive: true })
  await rm(join(r, 'remade'), { recursive: true })
  await mkdir(join(r, 'remade'))
  await writeFile(join(r, 'remade/new'), 'new')
  await rm(join(r, 'becomes-dir'))
  await mkdir(join(r, 'becomes-dir'))
  await writeFile(join(r, 'becomes-dir/f'), 'f')
  await rm(join(r, 'becomes-link'), { recursive: true })
  await symlink('a', join(r, 'becomes-link'))
  await chmod(join(r, 'big'), 0o600)
  await chown(join(r, 'a/keep'), 7, 8)
  await writeFile(join(r, 'home/user/.profile'), 'export A=2\n')
  await link(join(r, 'big'), join(r, 'hard-big'))
  await writeFile(join(r, 'a/added'), 'added\n')
}

/** Builds the image as tag `t` of a layout at `<dir>/layout` and umoci's unpack of it at `<dir>/bundle/rootfs`. */
export async function buildUmociImage (dir: string): Promise<{ layout: string, rootfs: string }> {
  const layout = join(dir, 'layout')
  const bundle = join(dir, 'bundle')
  await umoci('init', '--layout', layout)
  await umoci('new', '--image', `${layout}:t`)
  await umoci('unpack', '--image', `${layout}:t`, bundle)
  await populateBase(join(bundle, 'rootfs'))
  await stampTimes(join(bundle, 'rootfs'), new Date('2021-01-01T00:00:00Z'))
  await umoci('repack', '--image', `${layout}:t`, bundle)
  await rm(bundle, { recursive: true })
  await umoci('unpack', '--image', `${layout}:t`, bundle)
  await changeInLayer2(join(bundle, 'rootfs'))
  await stampTimes(join(bundle, 'rootfs'), new Date('2021-01-01T00:00:00Z'))
  await umoci('repack', '--image', `${layout}:t`, bundle)
  await rm(bundle, { recursive: true })
  // umoci never writes opaque whiteouts: add a layer that has one after a new entry of the same directory,
  // which must survive, plus a plain whiteout of a lower file.
  const layer3 = await buildTar([
    { header: { name: 'a/', type: 'directory', mode: 0o751 } },
    { header: { name: 'a/fresh', type: 'file' }, content: 'fresh\n' },
    { header: { name: 'a/.wh..wh..opq', type: 'file' } },
    { header: { name: 'home/user/.wh..profile', type: 'file' } },
    { header: { name: 'ln-to-link', type: 'link', linkname: 'rel-link' } }
  ])
  const layerFile = join(dir, 'layer3.tar')
  await writeFile(layerFile, layer3)
  await umoci('raw', 'add-layer', '--image', `${layout}:t`, layerFile)
  await umoci('unpack', '--image', `${layout}:t`, bundle)
  return { layout, rootfs: join(bundle, 'rootfs') }
}
