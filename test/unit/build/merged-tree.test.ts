/** MergedTree: layers' tar headers applied in memory as the unpacker applies them to a disk. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Header } from 'tar-stream'
import { MergedTree } from '../../../src/build/merged-tree.ts'

type Entry = Partial<Header> & Pick<Header, 'name'>

function merge (layers: Entry[][]): MergedTree {
  const tree = new MergedTree()
  layers.forEach((entries, index) => {
    tree.beginLayer(index)
    entries.forEach((entry, i) => { tree.add({ type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: new Date(0), ...entry } as Header, i) })
  })
  return tree
}

function paths (tree: MergedTree): string[] {
  return [...tree.walk()].map(({ path, node }) => node.kind === 'dir' ? `${path}/` : path)
}

describe('MergedTree', () => {
  it('applies an opaque whiteout to lower layers only, wherever it stands in its layer', () => {
    const tree = merge([
      [{ name: 'd/', type: 'directory' }, { name: 'd/old' }, { name: 'e/', type: 'directory' }, { name: 'e/old' }],
      [{ name: 'd/new' }, { name: 'd/.wh..wh..opq' }, { name: 'e/.wh..wh..opq' }, { name: 'e/new' }, { name: '.wh.gone' }]
    ])
    assert.deepEqual(paths(tree), ['d/', 'd/new', 'e/', 'e/new'])
  })

  it('resolves parents through symlinks inside the root only', () => {
    const tree = merge([
      [{ name: 'etc/', type: 'directory' }, { name: 'up', type: 'symlink', linkname: '/../../../etc' }],
      [{ name: 'up/passwd', uid: 7 }]
    ])
    assert.deepEqual(paths(tree), ['etc/', 'etc/passwd', 'up'])
    const node = tree.lookup('etc/passwd')
    assert.equal(node?.kind === 'leaf' ? node.inode.meta.uid : -1, 7)
  })

  it('keeps a hard link on the node its target had when a later entry replaces the target', () => {
    const tree = merge([
      [{ name: 'a', size: 3, uid: 5 }],
      [{ name: 'b', type: 'link', linkname: 'a' }, { name: 'a', size: 9 }]
    ])
    const a = tree.lookup('a')
    const b = tree.lookup('b')
    assert.ok(a?.kind === 'leaf' && b?.kind === 'leaf')
    assert.deepEqual([b.inode.layer, b.inode.entry, b.inode.size, b.inode.meta.uid, [...b.inode.names]], [0, 0, 3, 5, ['b']])
    assert.deepEqual([a.inode.layer, a.inode.size], [1, 9])
  })

  it('creates missing parents as 0755 directories of root, and replaces a file by a directory', () => {
    const tree = merge([[{ name: 'x' }], [{ name: 'x/', type: 'directory', mode: 0o700 }, { name: 'deep/er/file' }]])
    assert.deepEqual(paths(tree), ['deep/', 'deep/er/', 'deep/er/file', 'x/'])
    const deep = tree.lookup('deep')
    assert.equal(deep?.kind === 'dir' ? deep.meta : 'leaf', undefined)
    const x = tree.lookup('x')
    assert.equal(x?.kind === 'dir' ? x.meta?.mode : -1, 0o700)
  })

  it('refuses a hard link to nothing, a bare whiteout, and a root that is not a directory', () => {
    assert.throws(() => merge([[{ name: 'l', type: 'link', linkname: 'absent' }]]), { name: 'InvalidLayerError' })
    assert.throws(() => merge([[{ name: 'd/.wh.' }]]), { name: 'InvalidLayerError' })
    assert.throws(() => merge([[{ name: './', type: 'symlink', linkname: '/etc' }]]), { name: 'InvalidLayerError' })
  })
})
