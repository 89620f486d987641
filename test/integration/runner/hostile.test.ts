/**
 * Hostile layers: names with `..` and absolute paths, symlinks to `/`, `..` and host directories with entries
 * written through them, hard links and whiteouts aimed outside the rootfs. Nothing outside the rootfs may be
 * created or changed (a sentinel directory beside it is checked), and where umoci accepts the layer our tree
 * must equal umoci's (docs/formats.md "OCI layers" cleaning rules).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { loadImage } from '../../../src/runner/image.ts'
import { unpackRootfs } from '../../../src/runner/unpack.ts'
import { buildTar, ingestLayout, umoci, writeLayout, type TarEntry } from './helpers/images.ts'
import { diffTrees, snapshotTree } from './helpers/tree.ts'

interface Case {
  name: string
  /** Layers of entries; `host` is the absolute path of the sentinel directory. */
  layers: (host: string) => TarEntry[][]
  /** 'same': both unpack and the trees match; otherwise the error name we must throw (umoci must fail too). */
  expect: 'same' | string
  /** Whether umoci also refuses the layer (checked when we expect an error). */
  umociFails?: boolean
}

const file = (name: string, content = 'pwned\n'): TarEntry => ({ header: { name, type: 'file' }, content })
const sym = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'symlink', linkname } })
const hard = (name: string, linkname: string): TarEntry => ({ header: { name, type: 'link', linkname } })
const dir = (name: string, mode = 0o755): TarEntry => ({ header: { name, type: 'directory', mode } })

const CASES: Case[] = [
  { name: 'dot-dot names', expect: 'same', layers: () => [[file('../../sentinel/dotdot'), file('a/../../../../../sentinel/nested')]] },
  { name: 'absolute names', expect: 'same', layers: host => [[file(`${host}/abs`), file('/etc/x')]] },
  {
    name: 'files written through symlinks to /, to .. and to a host directory',
    expect: 'same',
    layers: host => [
      [sym('root', '/'), sym('up', '../../..'), sym('hostdir', host), sym('rel', '../../sentinel')],
      [file(`root${host}/through-root`), file('up/sentinel/through-up'), file('hostdir/through-abs'), file('rel/through-rel'), dir('hostdir/newdir')]
    ]
  },
  {
    name: 'a symlink chain and a loop',
    expect: 'same',
    layers: host => [[sym('l1', 'l2'), sym('l2', 'l3'), sym('l3', host), file('l1/chained'), sym('loop', 'loop'), file('loop-sibling')]]
  },
  {
    name: 'a file or directory replacing a symlink to a host path is not written through',
    expect: 'same',
    layers: host => [[sym('victim', `${host}/file`), sym('victimdir', host)], [file('victim', 'replaced\n'), dir('victimdir', 0o777)]]
  },
  {
    name: 'whiteouts and an opaque whiteout aimed outside',
    expect: 'same',
    layers: host => [
      [sym('hostdir', host), file(`${host}/file`, 'lower\n'), file('keep', 'keep\n')],
      [file('../../sentinel/.wh.file'), file(`${host}/.wh.other`), file('hostdir/.wh..wh..opq'), file('hostdir/after-opq')]
    ]
  },
  {
    name: 'a hard link through a symlinked parent stays inside',
    expect: 'same',
    layers: host => [[file(`${host}/file`, 'inside\n'), sym('hostdir', host), hard('hl', 'hostdir/file'), hard('hl2', `../..${host}/x/../file`)]]
  },
  { name: 'a hard link to a host file', expect: 'InvalidLayerError', umociFails: true, layers: host => [[hard('hl', `${host}/file`)]] },
  { name: 'a hard link climbing out with ..', expect: 'InvalidLayerError', umociFails: true, layers: () => [[hard('hl', '../../sentinel/file')]] },
  { name: 'an entry through a symlink loop', expect: 'InvalidLayerError', umociFails: true, layers: () => [[sym('loop', 'loop'), file('loop/x')]] },
  { name: 'a bare .wh. whiteout', expect: 'InvalidLayerError', layers: () => [[file('keep'), file('.wh.')]] },
  { name: 'a root entry that is a symlink', expect: 'InvalidLayerError', umociFails: true, layers: host => [[sym('./', host)]] }
]

describe('hostile layers', () => {
  let base: string
  let store: Store

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'runner-hostile-'))
    store = await Store.open(join(base, 'store'))
  })
  after(async () => { await rm(base, { recursive: true, force: true }) })

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const work = join(base, `case${i}`)
      const sentinel = join(work, 'sentinel')
      await mkdir(sentinel, { recursive: true })
      await writeFile(join(sentinel, 'file'), 'sentinel\n')
      const before = await snapshotTree(sentinel)
      const layers = await Promise.all(c.layers(sentinel).map(async entries => await buildTar(entries)))
      const layout = join(work, 'layout')
      await writeLayout(layout, 't', { layers })
      await ingestLayout(layout, 't', store, `hostile/case${i}:t`)
      const image = await loadImage(store, `hostile/case${i}:t`)
      const ours = join(work, 'ours', 'rootfs')
      const bundle = join(work, 'umoci')

      if (c.expect === 'same') {
        await unpackRootfs(store, image, ours)
        await umoci('unpack', '--image', `${layout}:t`, bundle)
        assert.deepEqual(diffTrees(await snapshotTree(join(bundle, 'rootfs')), await snapshotTree(ours)), [])
      } else {
        await assert.rejects(unpackRootfs(store, image, ours), { name: c.expect })
        assert.deepEqual(await readdir(join(work, 'ours')), [], 'no rootfs and no temp dir is left behind')
        if (c.umociFails === true) await assert.rejects(umoci('unpack', '--image', `${layout}:t`, bundle))
      }
      assert.deepEqual(diffTrees(before, await snapshotTree(sentinel)), [], 'the sentinel directory is untouched')
    })
  })
})
