/** The build commands' help and usage errors: one `emergence: error:` line, nothing on stdout. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assertCliError, runCli } from '../../helpers/tools.ts'
import { tempDir } from '../../helpers/temp.ts'

test('--help works on image build, from-nix and squash', async (t) => {
  const dataDir = await tempDir(t)
  for (const [command, option] of [['build', /--add <src\[:dest\]>/], ['from-nix', /--max-layers <n>/], ['squash', /--compression/]] as const) {
    const result = await runCli(['image', command, '--help'], { dataDir })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, new RegExp(`^Usage: emergence image ${command} `))
    assert.match(result.stdout, option)
  }
})

test('bad option values are usage errors', async (t) => {
  const dataDir = await tempDir(t)
  const cases: Array<[string[], RegExp]> = [
    [['image', 'build', '--add', '.'], /required option '-t, --tag <name:tag>' not specified/],
    [['image', 'build', '--compression', 'lz4', '-t', 'a/b:1'], /--compression.*expected gzip or zstd/],
    [['image', 'from-nix', '/nix/store/x', '--max-layers', '0', '-t', 'a/b:1'], /--max-layers.*1 or more/],
    [['image', 'squash', '-t', 'a/b:1'], /missing required argument 'ref'/]
  ]
  for (const [args, message] of cases) {
    const result = await runCli(args, { dataDir })
    assert.match(assertCliError(result), message, args.join(' '))
    assert.equal(result.stdout, '')
  }
})
