import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  dumpNar, narDigestOf, narDigestOfPath, parseNar, restoreNar, validateNar, verifyNarStream
} from '../../../src/nix/index.ts'
import type { TestContext } from 'node:test'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nix-nar-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function * rechunk (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

/** A tree with what a store path can hold: nesting, an executable, symlinks, an empty dir, odd names. */
async function makeTree (root: string): Promise<void> {
  await mkdir(join(root, 'bin'), { recursive: true })
  await mkdir(join(root, 'empty'))
  await mkdir(join(root, 'odd'))
  await writeFile(join(root, 'bin', 'tool'), '#!/bin/sh\necho hi\n')
  await chmod(join(root, 'bin', 'tool'), 0o755)
  await writeFile(join(root, 'data'), Buffer.alloc(100_000, 7))
  await writeFile(join(root, 'empty-file'), '')
  await symlink('../etc/../../outside', join(root, 'link-out'))
  await symlink('bin/tool', join(root, 'link-in'))
  for (const name of ['B', 'a', '~', 'é', 'ｆ', '😀', 'with space', '-dash']) await writeFile(join(root, 'odd', name), name)
  await writeFile(Buffer.from(join(root, 'odd') + '/bad\xffbyte', 'latin1'), 'x')
}

test('a file holding "hello\\n" gives the 120-byte NAR and narHash of docs/formats.md "NAR"', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'f'), 'hello\n')
  const nar = await collect(dumpNar(join(dir, 'f')))
  assert.equal(nar.length, 120)
  assert.deepEqual(await narDigestOfPath(join(dir, 'f')), {
    narHash: 'sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw',
    narSize: 120
  })
})

test('directory entries come in raw byte order, not UTF-16 order', async (t) => {
  const dir = await tempDir(t)
  await makeTree(join(dir, 'tree'))
  const names: string[] = []
  for await (const entry of parseNar(dumpNar(join(dir, 'tree')))) {
    if (entry.path.length === 2 && entry.path[0]?.toString() === 'odd') names.push(entry.path[1]!.toString('latin1'))
    if (entry.type === 'regular') for await (const _ of entry.contents);
  }
  const expected = ['-dash', 'B', 'a', 'bad\xffbyte', 'with space', '~', 'é', 'ｆ', '😀'].map(n => Buffer.from(n, n.includes('\xff') ? 'latin1' : 'utf8').toString('latin1'))
  assert.deepEqual(names, expected)
})

test('the parser reports every entry type with its attributes', async (t) => {
  const dir = await tempDir(t)
  await makeTree(join(dir, 'tree'))
  const seen = new Map<string, string>()
  for await (const entry of parseNar(dumpNar(join(dir, 'tree')))) {
    const key = entry.path.map(n => n.toString('latin1')).join('/')
    if (entry.type === 'regular') {
      const bytes = await collect(entry.contents)
      assert.equal(bytes.length, entry.size)
      seen.set(key, `file${entry.executable ? '+x' : ''}:${entry.size}`)
    } else if (entry.type === 'symlink') {
      seen.set(key, `link:${entry.target.toString()}`)
    } else {
      seen.set(key, 'dir')
    }
  }
  assert.equal(seen.get(''), 'dir')
  assert.equal(seen.get('empty'), 'dir')
  assert.equal(seen.get('bin/tool'), 'file+x:18')
  assert.equal(seen.get('data'), 'file:100000')
  assert.equal(seen.get('empty-file'), 'file:0')
  assert.equal(seen.get('link-out'), 'link:../etc/../../outside')
})

test('restore(dump(tree)) dumps to the same bytes, whatever the chunking', async (t) => {
  const dir = await tempDir(t)
  await makeTree(join(dir, 'tree'))
  const nar = await collect(dumpNar(join(dir, 'tree'), { chunkSize: 4096 }))
  assert.deepEqual(nar, await collect(dumpNar(join(dir, 'tree'))))
  for (const size of [3, 7, 65536]) {
    const target = join(dir, `copy-${size}`)
    await restoreNar(rechunk(nar, size), target)
    assert.deepEqual(await collect(dumpNar(target)), nar)
  }
  const copy = join(dir, 'copy-3')
  assert.equal((await lstat(join(copy, 'bin', 'tool'))).mode & 0o111, 0o111)
  assert.equal((await lstat(join(copy, 'data'))).mode & 0o111, 0)
  assert.equal(await readlink(join(copy, 'link-out')), '../etc/../../outside')
  assert.deepEqual(await readdir(join(copy, 'empty')), [])
  assert.deepEqual((await readdir(dir)).sort(), ['copy-3', 'copy-65536', 'copy-7', 'tree'])
})

/** Yields `bytes` in pieces of `size` through one buffer, overwritten for every piece (as readThrough does). */
async function * reusing (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  const buffer = Buffer.alloc(size)
  for (let i = 0; i < bytes.length; i += size) {
    const piece = bytes.subarray(i, i + size)
    buffer.set(piece)
    yield buffer.subarray(0, piece.length)
    buffer.fill(0xee)
  }
}

test('restore takes a source that reuses one buffer for every chunk, and canonical metadata on request', async (t) => {
  const dir = await tempDir(t)
  await makeTree(join(dir, 'tree'))
  await writeFile(join(dir, 'tree', 'big'), Buffer.alloc(700_000, 3))
  const nar = await collect(dumpNar(join(dir, 'tree')))
  for (const size of [5, 4096, 300_000, 1 << 20]) {
    const target = join(dir, `copy-${size}`)
    await restoreNar(reusing(nar, size), target, { canonical: true })
    assert.deepEqual(await collect(dumpNar(target)), nar, `chunks of ${size}`)
  }
  const copy = join(dir, 'copy-5')
  for (const [name, mode] of [['.', 0o555], ['bin', 0o555], ['bin/tool', 0o555], ['data', 0o444], ['empty', 0o555]] as const) {
    const st = await lstat(join(copy, name))
    assert.equal(st.mode & 0o7777, mode, name)
    assert.equal(Math.floor(st.mtimeMs / 1000), 1, name)
  }
  assert.equal(Math.floor((await lstat(join(copy, 'link-in'))).mtimeMs / 1000), 1)
})

test('a NAR of a single file or a symlink restores to a file or a symlink', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'f'), 'content')
  await symlink('/nonexistent/target', join(dir, 'l'))
  await restoreNar(dumpNar(join(dir, 'f')), join(dir, 'f2'))
  await restoreNar(dumpNar(join(dir, 'l')), join(dir, 'l2'))
  assert.equal(await readFile(join(dir, 'f2'), 'utf8'), 'content')
  assert.equal(await readlink(join(dir, 'l2')), '/nonexistent/target')
})

test('restore never overwrites an existing target', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'f'), 'content')
  await mkdir(join(dir, 'target'))
  await assert.rejects(restoreNar(dumpNar(join(dir, 'f')), join(dir, 'target')), { name: 'NarTargetExistsError' })
  assert.deepEqual((await readdir(dir)).sort(), ['f', 'target'])
})

test('validateNar accepts a good NAR; verifyNarStream checks narHash and narSize', async (t) => {
  const dir = await tempDir(t)
  await makeTree(join(dir, 'tree'))
  const nar = await collect(dumpNar(join(dir, 'tree')))
  await validateNar(rechunk(nar, 1000))
  const digest = await narDigestOf(rechunk(nar, 1000))
  const expected = { path: '/nix/store/x', ...digest }
  assert.deepEqual(await collect(verifyNarStream(rechunk(nar, 1000), expected)), nar)
  const flipped = Buffer.from(nar)
  flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 1
  await assert.rejects(collect(verifyNarStream(rechunk(flipped, 1000), expected)), { name: 'NarHashMismatchError' })
  await assert.rejects(collect(verifyNarStream(rechunk(nar.subarray(8), 1000), expected)), { name: 'NarSizeMismatchError' })
  await assert.rejects(collect(verifyNarStream(rechunk(Buffer.concat([nar, nar]), 1000), expected)), { name: 'NarSizeMismatchError' })
})

test('the writer refuses a socket or fifo it cannot archive', async (t) => {
  const dir = await tempDir(t)
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>(resolve => server.listen(join(dir, 'sock'), resolve))
  t.after(() => server.close())
  await assert.rejects(collect(dumpNar(dir)), { name: 'NarUnsupportedFileError' })
})
