/** The automatic GC's eviction policy: least recently used first, never a protected image, no more than needed. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { selectEvictions, type GcCandidate } from '../../../src/gc/policy.ts'

/** An image `name` used at `lastUsed` that reaches `blobs` (its own root first). */
function image (name: string, lastUsed: number, blobs: string[], isProtected = false): GcCandidate {
  return { digest: `root-${name}`, refs: [`app/${name}:1`], lastUsed, blobs: new Set([`root-${name}`, ...blobs]), protected: isProtected }
}

/** Every blob 100 bytes, roots 1 byte. */
function sizesOf (images: GcCandidate[]): Map<string, number> {
  return new Map(images.flatMap(i => [...i.blobs].map(b => [b, b.startsWith('root-') ? 1 : 100] as const)))
}

const names = (images: GcCandidate[]): string[] => images.map(i => i.refs[0] ?? '')

describe('selectEvictions', () => {
  it('evicts least recently used first and stops once enough is freed (the low watermark)', () => {
    const images = [image('c', 300, ['c1']), image('a', 100, ['a1']), image('d', 400, ['d1']), image('b', 200, ['b1'])]
    const one = selectEvictions({ candidates: images, sizes: sizesOf(images), retained: new Set(), needed: 50 })
    assert.deepEqual(names(one.evict), ['app/a:1'])
    assert.equal(one.freedBytes, 101)
    const two = selectEvictions({ candidates: images, sizes: sizesOf(images), retained: new Set(), needed: 150 })
    assert.deepEqual(names(two.evict), ['app/a:1', 'app/b:1'])
    assert.equal(selectEvictions({ candidates: images, sizes: sizesOf(images), retained: new Set(), needed: 0 }).evict.length, 0)
  })

  it('never chooses a protected image, even when the target cannot be met without it', () => {
    const images = [image('old', 1, ['o1'], true), image('mid', 2, ['m1']), image('new', 3, ['n1'], true)]
    const selection = selectEvictions({ candidates: images, sizes: sizesOf(images), retained: new Set(), needed: 10_000 })
    assert.deepEqual(names(selection.evict), ['app/mid:1'])
    assert.equal(selection.freedBytes, 101)
  })

  it('counts only the blobs no kept image or pin reaches, and skips an eviction that frees nothing', () => {
    // `a` shares its layer with the protected `p`; `b` has a pinned layer and its own; `c` is all its own.
    const images = [image('a', 1, ['shared']), image('b', 2, ['pinned', 'b1']), image('c', 3, ['c1']), image('p', 4, ['shared'], true)]
    const sizes = sizesOf(images)
    const selection = selectEvictions({ candidates: images, sizes, retained: new Set(['pinned']), needed: 150 })
    // `a` frees only its 1-byte root, so it is put back once b and c meet the target.
    assert.deepEqual(names(selection.evict), ['app/b:1', 'app/c:1'])
    assert.equal(selection.freedBytes, 202)
  })

  it('two images that share a layer free it only together', () => {
    const images = [image('x', 1, ['big']), image('y', 2, ['big']), image('z', 3, ['z1'])]
    const sizes = new Map([...sizesOf(images), ['big', 1000]])
    const selection = selectEvictions({ candidates: images, sizes, retained: new Set(), needed: 900 })
    assert.deepEqual(names(selection.evict), ['app/x:1', 'app/y:1'])
    assert.equal(selection.freedBytes, 1002)
  })

  it('breaks ties in last use by digest, so that every run picks the same', () => {
    const images = [image('b', 5, ['b1']), image('a', 5, ['a1'])]
    assert.deepEqual(names(selectEvictions({ candidates: images, sizes: sizesOf(images), retained: new Set(), needed: 1 }).evict), ['app/a:1'])
  })
})
