/** Build settings: the epoch, owners, commands and the config overlay on a base. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applySettings, parseCommand, parseOwner, sourceDateEpoch } from '../../../src/build/settings.ts'

test('SOURCE_DATE_EPOCH sets the build time, 0 without it, and a bad value is a typed error', () => {
  assert.equal(sourceDateEpoch({}), 0)
  assert.equal(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' }), 1700000000)
  assert.throws(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' }), { name: 'BuildOptionError' })
})

test('owners are numeric uid:gid', () => {
  assert.deepEqual(parseOwner('1000:100'), { uid: 1000, gid: 100 })
  assert.throws(() => parseOwner('root:root'), { name: 'BuildOptionError' })
})

test('a command is a JSON array or one argument', () => {
  assert.deepEqual(parseCommand('["/bin/sh","-c","echo hi"]', '--cmd'), ['/bin/sh', '-c', 'echo hi'])
  assert.deepEqual(parseCommand('/bin/app', '--entrypoint'), ['/bin/app'])
  assert.throws(() => parseCommand('[1, 2]', '--cmd'), { name: 'BuildOptionError' })
})

test('settings overlay the base config, keeping what they do not set', () => {
  const base = { Env: ['PATH=/bin', 'A=1'], Entrypoint: ['/bin/sh'], Cmd: ['-c', 'x'], Labels: { a: '1' }, StopSignal: 'SIGINT' }
  assert.deepEqual(applySettings(base, { env: ['A=2', 'B=3', 'B=4'], labels: { b: '2' }, workdir: '/srv' }), {
    Env: ['PATH=/bin', 'A=2', 'B=4'], Entrypoint: ['/bin/sh'], Cmd: ['-c', 'x'], Labels: { a: '1', b: '2' }, StopSignal: 'SIGINT', WorkingDir: '/srv'
  })
  // A new entrypoint drops the base's arguments unless new ones are given.
  assert.deepEqual(applySettings(base, { entrypoint: ['/app'] }).Cmd, undefined)
  assert.deepEqual(applySettings(base, { entrypoint: ['/app'], cmd: ['--x'] }).Cmd, ['--x'])
  assert.throws(() => applySettings(base, { env: ['NOEQUALS'] }), { name: 'BuildOptionError' })
})
