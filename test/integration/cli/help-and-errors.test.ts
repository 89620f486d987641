/** `--help` on every command, and how usage errors look: one `emergence: error:` line, a non-zero exit. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertCliError, runCli } from '../../helpers/tools.ts'
import { tempDir } from '../../helpers/temp.ts'

const COMMANDS = [
  [], ['image'], ['image', 'import'], ['image', 'ls'], ['image', 'inspect'], ['image', 'export'], ['image', 'rm'],
  ['image', 'pin'], ['image', 'unpin'], ['gc'], ['store'], ['store', 'path'], ['store', 'verify']
]

test('--help works on every command and subcommand', async (t) => {
  const dataDir = await tempDir(t)
  const results = await Promise.all(COMMANDS.map(async words => await runCli([...words, '--help'], { dataDir })))
  for (const [i, result] of results.entries()) {
    const words = COMMANDS[i] ?? []
    assert.equal(result.code, 0, `${words.join(' ')} --help: ${result.stderr}`)
    assert.equal(result.stderr, '')
    assert.match(result.stdout, new RegExp(`^Usage: emergence${words.length > 0 ? ' ' + words.join(' ') : ''} `), words.join(' '))
  }
  assert.match(results[0]?.stdout ?? '', /--data-dir <dir>/)
  assert.match(results[0]?.stdout ?? '', /--json/)
  assert.match(results[2]?.stdout ?? '', /--archive/)
  assert.match(results[12]?.stdout ?? '', /--quarantine/)
})

test('--version prints the version', async () => {
  const result = await runCli(['--version'])
  assert.equal(result.code, 0)
  assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/)
})

test('usage errors print one error line and exit non-zero', async (t) => {
  const dataDir = await tempDir(t)
  const cases: Array<[string[], RegExp]> = [
    [['image', 'bogus'], /unknown command 'bogus'/],
    [['imgae', 'ls'], /unknown command 'imgae'/],
    [['image', 'inspect'], /missing required argument 'ref'/],
    [['--bogus', 'image', 'ls'], /unknown option '--bogus'/],
    [['gc', '--grace', 'soon'], /--grace/],
    [['gc', '--grace', '-5'], /--grace/],
    [['stop', 'some-id', '--timeout', 'abc'], /--timeout/]
  ]
  const results = await Promise.all(cases.map(async ([args]) => await runCli(args, { dataDir })))
  for (const [i, result] of results.entries()) {
    const [args, message] = cases[i] ?? [[], /./]
    assert.match(assertCliError(result), message, args.join(' '))
    assert.equal(result.stdout, '', args.join(' '))
    assert.equal(result.stderr.split('\n').filter(l => l !== '').length, 1, 'a usage error is the only line')
  }
})

test('with --json, a usage error is also a JSON error object on stdout', async (t) => {
  const dataDir = await tempDir(t)
  const result = await runCli(['--json', 'image', 'ls', '--bogus'], { dataDir })
  assert.match(assertCliError(result), /unknown option '--bogus'/)
  assert.deepEqual(JSON.parse(result.stdout), { error: { code: 'USAGE', message: "unknown option '--bogus'" } })
})
