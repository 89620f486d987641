/** Runner errors stay one short line whatever the layer names: hostile names are kilobytes long. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EntryPathError, InvalidLayerError, UnpackError } from '../../../src/runner/errors.ts'
import { describeError, shorten } from '../../../src/util/errors.ts'

const LONG = 'a/'.repeat(2499)

test('shorten keeps both ends of a long text around an ellipsis', () => {
  assert.equal(shorten('short'), 'short')
  const cut = shorten(`start${'x'.repeat(1000)}end`, 21)
  assert.equal(cut.length, 21)
  assert.ok(cut.startsWith('startxxxxx') && cut.endsWith('xxxxxxend') && cut.includes('…'))
})

test('an UnpackError over a system error naming a 5 KB path is one short line that keeps the code', () => {
  const cause = Object.assign(new Error(`ENAMETOOLONG: name too long, mkdir '/tmp/rootfs/${LONG}'`), { code: 'ENAMETOOLONG', syscall: 'mkdir' })
  const err = new UnpackError(LONG, cause)
  const line = describeError(err)
  assert.ok(line.length < 500, `${line.length} characters`)
  assert.match(line, /ENAMETOOLONG/)
  assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENAMETOOLONG')
  assert.equal(err.entry, LONG, 'the whole name stays on the error for callers')
})

test('layer entry errors quote at most about 200 characters of the name', () => {
  for (const err of [new InvalidLayerError(LONG, 'why'), new EntryPathError(LONG, 'why')]) {
    assert.ok(describeError(err).length < 260, `${err.name}: ${describeError(err).length} characters`)
  }
})
