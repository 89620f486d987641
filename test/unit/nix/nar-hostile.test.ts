/**
 * Hostile NARs: each is refused with its own error, and the restore leaves nothing behind (no target, no temp
 * directory, nothing outside).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { restoreNar } from '../../../src/nix/index.ts'
import type { TestContext } from 'node:test'

type Part = string | Buffer

function str (value: Part): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(bytes.length))
  return Buffer.concat([length, bytes, Buffer.alloc((8 - (bytes.length % 8)) % 8)])
}

const nar = (...parts: Part[]): Buffer => Buffer.concat(parts.map(str))
const file = (contents: string): Part[] => ['(', 'type', 'regular', 'contents', contents, ')']
const entry = (name: Part, node: Part[]): Part[] => ['entry', '(', 'name', name, 'node', ...node, ')']
const dir = (...entries: Part[][]): Part[] => ['(', 'type', 'directory', ...entries.flat(), ')']
const archive = (node: Part[]): Buffer => nar('nix-archive-1', ...node)

async function * chunks (bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 64) yield bytes.subarray(i, i + 64)
}

async function setup (t: TestContext): Promise<{ parent: string, target: string, outside: string }> {
  const root = await mkdtemp(join(tmpdir(), 'nix-hostile-'))
  t.after(() => rm(root, { recursive: true, force: true }))
  const parent = join(root, 'parent')
  const outside = join(root, 'outside')
  await mkdir(parent)
  await mkdir(outside)
  return { parent, target: join(parent, 'target'), outside }
}

async function refused (t: TestContext, bytes: Buffer, name: string, options: { maxSize?: number } = {}): Promise<void> {
  const { parent, target, outside } = await setup(t)
  await assert.rejects(restoreNar(chunks(bytes), target, options), { name })
  assert.deepEqual(await readdir(parent), [], 'nothing is left beside the target')
  assert.deepEqual(await readdir(outside), [], 'nothing is written outside')
}

const big = 'x'.repeat(200)

const cases: Array<[string, Buffer, string, { maxSize?: number }?]> = [
  ['wrong magic', nar('nix-archive-2', ...file('a')), 'NarMagicError'],
  ['no magic at all', nar('(', 'type', 'regular'), 'NarMagicError'],
  ['empty stream', Buffer.alloc(0), 'NarTruncatedError'],
  ['stream cut inside file contents', archive(dir(entry('a', file(big)))).subarray(0, 200), 'NarTruncatedError'],
  ['stream cut inside a token', archive(dir(entry('a', file('x')))).subarray(0, 61), 'NarTruncatedError'],
  ['stream cut before the closing parenthesis', archive(dir(entry('a', file('x')))).subarray(0, -16), 'NarTruncatedError'],
  ['contents length beyond the stream', Buffer.concat([nar('nix-archive-1', '(', 'type', 'regular', 'contents').subarray(0), Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), Buffer.alloc(64)]), 'NarTruncatedError'],
  ['contents length beyond the declared size', archive(file(big)), 'NarLengthError', { maxSize: 150 }],
  ['string length of 2^62', Buffer.concat([nar('nix-archive-1', '(', 'type', 'directory', 'entry', '(', 'name'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x40])]), 'NarLengthError'],
  ['contents length above 2^53', Buffer.concat([nar('nix-archive-1', '(', 'type', 'regular', 'contents'), Buffer.from([0, 0, 0, 0, 0, 0, 0x40, 0])]), 'NarLengthError'],
  ['entry name longer than NAME_MAX', archive(dir(entry('n'.repeat(256), file('x')))), 'NarLengthError'],
  ['non-zero padding after a name', Buffer.from(archive(dir(entry('abc', file('x')))).map((b, i, all) => i === padAfter(all, 'abc') ? 1 : b)), 'NarPaddingError'],
  ['non-zero padding after contents', Buffer.from(archive(dir(entry('a', file('xyz')))).map((b, i, all) => i === padAfter(all, 'xyz') ? 7 : b)), 'NarPaddingError'],
  ['empty entry name', archive(dir(entry('', file('x')))), 'NarEntryNameError'],
  ['entry name .', archive(dir(entry('.', file('x')))), 'NarEntryNameError'],
  ['entry name ..', archive(dir(entry('..', dir()))), 'NarEntryNameError'],
  ['entry name with a slash', archive(dir(entry('a/b', file('x')))), 'NarEntryNameError'],
  ['entry name with a NUL', archive(dir(entry(Buffer.from('a\0b'), file('x')))), 'NarEntryNameError'],
  ['entries out of order', archive(dir(entry('b', file('x')), entry('a', file('x')))), 'NarUnsortedError'],
  ['entries out of byte order (UTF-16 order)', archive(dir(entry('😀', file('x')), entry('ｆ', file('x')))), 'NarUnsortedError'],
  ['duplicate entries', archive(dir(entry('a', file('x')), entry('a', file('y')))), 'NarDuplicateEntryError'],
  ['a directory over a symlink of the same name', archive(dir(entry('a', ['(', 'type', 'symlink', 'target', '/tmp', ')']), entry('a', dir(entry('f', file('x')))))), 'NarDuplicateEntryError'],
  ['unknown node type', archive(['(', 'type', 'fifo', ')']), 'NarSyntaxError'],
  ['tokens out of order', archive(['(', 'type', 'regular', ')', 'contents', 'x']), 'NarSyntaxError'],
  ['executable flag with a value', archive(['(', 'type', 'regular', 'executable', 'yes', 'contents', 'x', ')']), 'NarSyntaxError'],
  ['empty symlink target', archive(['(', 'type', 'symlink', 'target', '', ')']), 'NarSyntaxError'],
  ['bytes after the end of the archive', Buffer.concat([archive(file('x')), str('(')]), 'NarSyntaxError'],
  ['nesting deeper than the limit', archive(deep(300)), 'NarSyntaxError']
]

/** Offset of the first padding byte after the string `value` in `bytes`. */
function padAfter (bytes: Uint8Array, value: string): number {
  return Buffer.from(bytes).indexOf(str(value).subarray(0, 8 + value.length)) + 8 + value.length
}

function deep (levels: number): Part[] {
  let node: Part[] = dir()
  for (let i = 0; i < levels; i++) node = dir(entry('d', node))
  return node
}

for (const [why, bytes, name, options] of cases) {
  test(`refuses a NAR: ${why} (${name})`, async (t) => {
    await refused(t, bytes, name, options)
  })
}

test('a partly written large file is removed when a later entry is bad', async (t) => {
  await refused(t, archive(dir(entry('a', file('y'.repeat(1_000_000))), entry('a', file('x')))), 'NarDuplicateEntryError')
})

test('symlink targets are written verbatim and nothing is followed through them', async (t) => {
  const { parent, target, outside } = await setup(t)
  const bytes = archive(dir(
    entry('abs', ['(', 'type', 'symlink', 'target', outside, ')']),
    entry('rel', ['(', 'type', 'symlink', 'target', '../../outside/../..', ')'])
  ))
  await restoreNar(chunks(bytes), target)
  assert.equal(await readlink(join(target, 'abs')), outside)
  assert.equal(await readlink(join(target, 'rel')), '../../outside/../..')
  assert.ok((await lstat(join(target, 'abs'))).isSymbolicLink())
  assert.deepEqual(await readdir(parent), ['target'])
  assert.deepEqual(await readdir(outside), [])
})
