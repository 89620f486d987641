/** The layering rule of `image from-nix`: popularity, one layer per path, and the merge past maxLayers. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { groupLayers, popularity, type ClosureNode } from '../../../src/build/nix-layers.ts'

// app -> (lib, tool); tool -> lib; lib -> libc; data has no references.
const CLOSURE: ClosureNode[] = [
  { path: '/nix/store/a-app', references: ['/nix/store/b-lib', '/nix/store/c-tool', '/nix/store/e-data', '/nix/store/a-app'] },
  { path: '/nix/store/b-lib', references: ['/nix/store/d-libc'] },
  { path: '/nix/store/c-tool', references: ['/nix/store/b-lib'] },
  { path: '/nix/store/d-libc', references: [] },
  { path: '/nix/store/e-data', references: [] }
]

test('popularity counts the closure paths that depend on a path, itself included', () => {
  assert.deepEqual(Object.fromEntries(popularity(CLOSURE)), {
    '/nix/store/a-app': 1, '/nix/store/b-lib': 3, '/nix/store/c-tool': 2, '/nix/store/d-libc': 4, '/nix/store/e-data': 2
  })
})

test('each path has its own layer, most popular first, ties by path', () => {
  assert.deepEqual(groupLayers(CLOSURE, 5), [['/nix/store/d-libc'], ['/nix/store/b-lib'], ['/nix/store/c-tool'], ['/nix/store/e-data'], ['/nix/store/a-app']])
})

test('past maxLayers the least popular paths share the last layer', () => {
  assert.deepEqual(groupLayers(CLOSURE, 3), [['/nix/store/d-libc'], ['/nix/store/b-lib'], ['/nix/store/a-app', '/nix/store/c-tool', '/nix/store/e-data']])
  assert.deepEqual(groupLayers(CLOSURE, 1), [CLOSURE.map(n => n.path).sort()])
  assert.throws(() => groupLayers(CLOSURE, 0), RangeError)
})

test('the grouping does not depend on the order the closure comes in', () => {
  assert.deepEqual(groupLayers([...CLOSURE].reverse(), 3), groupLayers(CLOSURE, 3))
})
