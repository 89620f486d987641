/**
 * Fuzzing the NAR reader and restorer (Nix's NAR format): arbitrary bytes, and archives built from random trees
 * (hostile names, symlinks aimed outside, unsorted and duplicate entries) then cut short or corrupted. The reader
 * and the restorer may only succeed or throw the Nix module's typed errors, must always finish, and the restore
 * writes nothing outside its target (all or nothing: no target after a failure).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lstat } from 'node:fs/promises'
import fc from 'fast-check'
import * as nixErrors from '../../src/nix/errors.ts'
import { narStrings, restoreNar, validateNar } from '../../src/nix/index.ts'
import { FUZZ_TIMEOUT_MS, errorClassesOf, fuzzParameters, succeedsOrTyped, withSandbox } from './fuzz.ts'

const TYPED = errorClassesOf(nixErrors)

type Tree =
  | { kind: 'file', contents: Uint8Array, executable: boolean }
  | { kind: 'symlink', target: string }
  | { kind: 'directory', entries: Array<{ name: string, node: Tree }> }

/** Names a hostile archive would use, plus ordinary ones. */
const name = fc.oneof(
  fc.constantFrom('a', 'b', 'bin', '.', '..', '', 'a/b', '../outside', 'x'.repeat(256), 'nul\0byte', '.wh.a'),
  fc.string({ minLength: 1, maxLength: 8 })
)

function symlinkTargets (outside: string): fc.Arbitrary<string> {
  return fc.oneof(fc.constantFrom('/', '..', '../outside', outside, `${outside}/sentinel`, '../../..', 'y'.repeat(4100)), fc.string({ maxLength: 12 }))
}

function tree (outside: string): fc.Arbitrary<Tree> {
  return fc.letrec<{ node: Tree }>(tie => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('file' as const), contents: fc.uint8Array({ maxLength: 64 }), executable: fc.boolean() }),
      fc.record({ kind: fc.constant('symlink' as const), target: symlinkTargets(outside) }),
      fc.record({ kind: fc.constant('directory' as const), entries: fc.array(fc.record({ name, node: tie('node') }), { maxLength: 4 }) })
    )
  })).node
}

/** The NAR of `node`, entries in the order given (often unsorted or duplicated, which the reader refuses). */
function encode (node: Tree): Uint8Array[] {
  switch (node.kind) {
    case 'file':
      return [narStrings('(', 'type', 'regular', ...(node.executable ? ['executable', ''] : []), 'contents', node.contents, ')')]
    case 'symlink':
      return [narStrings('(', 'type', 'symlink', 'target', node.target, ')')]
    case 'directory':
      return [
        narStrings('(', 'type', 'directory'),
        ...node.entries.flatMap(entry => [narStrings('entry', '(', 'name', entry.name, 'node'), ...encode(entry.node), narStrings(')')]),
        narStrings(')')
      ]
  }
}

/** Damage to apply to a well-formed archive: none, a cut, a changed byte, or garbage inserted. */
const damage = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) })
)

type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never

function damaged (bytes: Buffer, change: Damage): Buffer {
  if (change.kind === 'none' || bytes.length === 0) return bytes
  const at = change.at % bytes.length
  if (change.kind === 'cut') return bytes.subarray(0, at)
  if (change.kind === 'insert') return Buffer.concat([bytes.subarray(0, at), change.bytes, bytes.subarray(at)])
  const out = Buffer.from(bytes)
  out[at] = change.value
  return out
}

async function * chunked (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

test('the NAR reader takes arbitrary bytes without crashing', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const magic = narStrings('nix-archive-1')
  await fc.assert(fc.asyncProperty(fc.boolean(), fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 1, max: 64 }), async (withMagic, body, chunk) => {
    const bytes = withMagic ? Buffer.concat([magic, body]) : body
    await succeedsOrTyped(async () => { await validateNar(chunked(bytes, chunk)) }, TYPED)
  }), fuzzParameters(400))
})

test('restoring random, cut or corrupted archives writes only the target, all or nothing', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  await withSandbox('fuzz-nar-', async box => {
    const archive = fc.tuple(tree(box.outside), damage, fc.integer({ min: 1, max: 128 }), fc.option(fc.nat({ max: 4096 }), { nil: undefined }))
    await fc.assert(fc.asyncProperty(archive, async ([node, change, chunk, maxSize]) => {
      const bytes = damaged(Buffer.concat([narStrings('nix-archive-1'), ...encode(node)]), change)
      await box.confined(async () => {
        const restored = await succeedsOrTyped(async () => {
          await restoreNar(chunked(bytes, chunk), box.target, maxSize !== undefined ? { maxSize } : {})
        }, TYPED)
        const exists = await lstat(box.target).then(() => true, () => false)
        assert.equal(exists, restored, restored ? 'a restore that succeeded leaves the target' : 'a failed restore leaves no target')
      })
    }), fuzzParameters(300))
  })
})
