import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ListBook, carryOver } from '../../../src/p2p/pieces/list-book.ts'
import type { PieceList } from '../../../src/p2p/pieces/piece-list.ts'

function list (bytes: number[], pieceSize = 16384): PieceList {
  const hashes = new Uint8Array(bytes.length * 32)
  bytes.forEach((b, i) => hashes.fill(b, i * 32, i * 32 + 32))
  return { size: bytes.length * pieceSize, pieceSize, hashes }
}

test('the list most peers gave wins; a complete holder breaks ties', () => {
  const book = new ListBook()
  book.add('liar', list([9, 9, 9]))
  book.add('a', list([1, 2, 3]))
  book.add('b', list([1, 2, 3]))
  assert.deepEqual([...(book.choose(() => false)?.hashes ?? [])], [...list([1, 2, 3]).hashes])
  assert.deepEqual(book.supporters.sort(), ['a', 'b'])
  assert.equal(book.supportsCurrent('liar'), false)
  assert.equal(book.hasAlternative(() => false), true)
  assert.equal(book.hasAlternative(p => p === 'liar'), false)

  const tie = new ListBook()
  tie.add('x', list([5, 5]))
  tie.add('seed', list([6, 6]))
  tie.choose(() => false, p => p === 'seed')
  assert.deepEqual(tie.supporters, ['seed'])
})

test('a banned peer\'s vote does not count', () => {
  const book = new ListBook()
  book.add('a', list([1]))
  book.add('b', list([2]))
  book.add('c', list([2]))
  book.choose(p => p === 'b' || p === 'c')
  assert.deepEqual(book.supporters, ['a'])
})

test('agreement is judged piece by piece', () => {
  const book = new ListBook()
  book.add('a', list([1, 2, 3]))
  book.add('b', list([1, 7, 3]))
  book.add('other-cut', list([1, 2, 3], 32768))
  book.choose(p => p !== 'a')
  assert.equal(book.agreesAt('b', 0), true)
  assert.equal(book.agreesAt('b', 1), false)
  assert.equal(book.agreesAt('other-cut', 0), false)
  assert.equal(book.agreesAt('unknown', 0), false)
  assert.deepEqual(book.dissenters(), ['b'], 'a list cut at another size is no lie')
})

test('a refuted list is never chosen again and names its givers', () => {
  const book = new ListBook()
  book.add('liar', list([9]))
  book.add('honest', list([1]))
  book.choose(p => p === 'honest')
  assert.deepEqual(book.refuteCurrent(), ['liar'])
  assert.equal(book.current, undefined)
  assert.deepEqual(book.supporters, [])
  book.choose(() => false)
  assert.deepEqual(book.supporters, ['honest'])
})

test('verified pieces survive a list switch where both lists agree', () => {
  assert.deepEqual(carryOver(list([1, 2, 3]), list([1, 9, 3]), [0, 1, 2]), [0, 2])
  assert.deepEqual(carryOver(list([1, 2]), list([1, 2], 32768), [0, 1]), [])
})
