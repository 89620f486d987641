/** Automaton specs: YAML and JSON parse to the same spec; every bad key is named in the error. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseSpec, type AutomatonSpec } from '../../../src/automaton/spec.ts'

const YAML = `
name: counter
artefact: app/counter:1
process:
  args: [/bin/sh, -c, 'echo hi']
  env: { GREETING: hello }
  cwd: /srv
  user: "1000:1000"
state: /state
restart: on-failure
`

test('parses YAML and JSON to the same spec', () => {
  const spec = parseSpec(YAML, 'counter.yaml')
  const expected: AutomatonSpec = {
    name: 'counter',
    artefact: 'app/counter:1',
    process: { args: ['/bin/sh', '-c', 'echo hi'], env: { GREETING: 'hello' }, cwd: '/srv', user: '1000:1000' },
    state: '/state',
    restart: 'on-failure'
  }
  assert.deepEqual(spec, expected)
  assert.deepEqual(parseSpec(JSON.stringify(expected), 'counter.json'), expected)
  assert.deepEqual(parseSpec('name: n\nartefact: /nix/store/0c8bzmhhj7hvzr2ap3rfzcf8r2rm08rx-hello', 'n.yaml').artefact, '/nix/store/0c8bzmhhj7hvzr2ap3rfzcf8r2rm08rx-hello')
})

test('names the bad key', () => {
  const cases: Array<[string, RegExp]> = [
    ['name: counter\nartefact: a:1\nrestrat: always', /^s\.yaml: restrat: unknown key \(expected one of: name, artefact, process, state, restart\)$/],
    ['name: counter\nartefact: a:1\nprocess: { argz: [x] }', /^s\.yaml: process\.argz: unknown key \(expected one of: args, env, cwd, user\)$/],
    ['name: counter\nartefact: a:1\nrestart: sometimes', /^s\.yaml: restart: /],
    ['name: counter\nartefact: a:1\nprocess: { args: [x, 3] }', /^s\.yaml: process\.args\[1\]: /],
    ['name: counter\nartefact: a:1\nprocess: { args: [] }', /^s\.yaml: process\.args: must not be empty$/],
    ['name: counter\nartefact: a:1\nprocess: { env: { "BAD-NAME": x } }', /^s\.yaml: process\.env\.BAD-NAME: /],
    ['name: counter\nartefact: a:1\nstate: relative/dir', /^s\.yaml: state: must be an absolute/],
    ['name: counter\nartefact: a:1\nprocess: { cwd: /a/../b }', /^s\.yaml: process\.cwd: must be an absolute, normalized path/],
    ['name: ../escape\nartefact: a:1', /^s\.yaml: name: must be 1-64 letters/],
    ['artefact: a:1', /^s\.yaml: name: /],
    ['name: counter', /^s\.yaml: artefact: /],
    ['- a list', /^s\.yaml: /],
    ['name: [unclosed', /^s\.yaml: not YAML or JSON: /]
  ]
  for (const [text, message] of cases) {
    assert.throws(() => parseSpec(text, 's.yaml'), (err: Error) => {
      assert.equal(err.name, 'InvalidSpecError', text)
      assert.match(err.message, message, text)
      return true
    })
  }
})

test('refuses a spec file past the size limit before parsing it', () => {
  assert.throws(() => parseSpec(`name: n\nartefact: a:1\n#${'x'.repeat(70_000)}`, 'big.yaml'), { name: 'InvalidSpecError', message: /larger than 65536 bytes/ })
})
