/** Name cleaning and in-root resolution (umoci, filepath-securejoin): nothing resolves outside the root. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cleanEntryName, DirResolver, MAX_SYMLINKS, resolveInRoot, splitName } from '../../../src/runner/secure-join.ts'

describe('cleanEntryName', () => {
  it('cleans like Clean("/" + name) and drops the leading slash', () => {
    const cases: Array<[string, string]> = [
      ['a/b', 'a/b'], ['./a/b/', 'a/b'], ['/etc/passwd', 'etc/passwd'], ['../../x', 'x'], ['a/../../b', 'b'],
      ['a//b/./c', 'a/b/c'], ['./', ''], ['.', ''], ['/', ''], ['..', ''], ['', ''], ['a/b/..', 'a'], ['.wh..wh..opq', '.wh..wh..opq']
    ]
    for (const [name, want] of cases) assert.equal(cleanEntryName(name), want, name)
  })

  it('splits a cleaned name into parent and base', () => {
    assert.deepEqual(splitName('a/b/c'), { parent: 'a/b', base: 'c' })
    assert.deepEqual(splitName('top'), { parent: '', base: 'top' })
  })
})

describe('resolveInRoot', () => {
  let root: string

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'runner-join-'))
    await mkdir(join(root, 'real/sub'), { recursive: true })
    await symlink('/', join(root, 'to-root'))
    await symlink('../../../..', join(root, 'real/up'))
    await symlink('/real', join(root, 'abs'))
    await symlink('sub', join(root, 'real/rel'))
    await symlink('/etc', join(root, 'host-etc'))
    await symlink('loop', join(root, 'loop'))
    await symlink('a', join(root, 'b'))
    await symlink('b', join(root, 'a'))
  })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  it('keeps every path inside the root', async () => {
    const cases: Array<[string, string]> = [
      ['real/sub', 'real/sub'],
      ['to-root', ''],
      ['to-root/real/sub', 'real/sub'],
      ['real/up', ''],
      ['real/up/real', 'real'],
      ['abs/rel', 'real/sub'],
      ['host-etc/passwd', 'etc/passwd'],
      ['../../../../etc', 'etc'],
      ['/real/../../..', ''],
      ['missing/then/more', 'missing/then/more'],
      ['real/sub/../rel', 'real/sub']
    ]
    for (const [path, want] of cases) assert.equal(await resolveInRoot(root, path), want, path)
  })

  it('gives up on symlink loops after MAX_SYMLINKS links', async () => {
    assert.equal(MAX_SYMLINKS, 255)
    await assert.rejects(resolveInRoot(root, 'loop/x'), { name: 'InvalidLayerError' })
    await assert.rejects(resolveInRoot(root, 'a'), { name: 'InvalidLayerError' })
  })

  it('caches directories until invalidated', async () => {
    const resolver = new DirResolver(root)
    assert.equal(await resolver.resolve('later/x'), 'later/x')
    await symlink('real', join(root, 'later'))
    assert.equal(await resolver.resolve('later/x'), 'later/x', 'served from the cache')
    resolver.invalidate()
    assert.equal(await resolver.resolve('later/x'), 'real/x')
  })

  it('resolves a new directory from its nearest cached ancestor: n nested directories cost n lookups', async () => {
    // The unpacker asks for each entry's parent; in a layer of nested directories every parent is new.
    const resolver = new DirResolver(root)
    const depth = 200
    let parent = ''
    for (let i = 0; i < depth; i++) {
      parent = parent === '' ? 'chain' : `${parent}/d`
      assert.equal(resolver.resolve(parent), parent)
    }
    assert.equal(resolver.lookups, depth, 'one lookup per level, not one per level per entry')
  })

  it('follows a symlink met in the middle of a cached walk', async () => {
    await mkdir(join(root, 'target/deep'), { recursive: true })
    await symlink('target', join(root, 'via'))
    const resolver = new DirResolver(root)
    assert.equal(resolver.resolve('via'), 'target')
    assert.equal(resolver.resolve('via/deep/x'), 'target/deep/x')
    assert.equal(resolver.resolve('via/deep'), 'target/deep', 'the ancestors walked on the way were cached')
  })
})
