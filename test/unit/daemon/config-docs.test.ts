/** docs/configuration.md lists every key the config file takes, so the reference cannot fall behind the code. */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../../src/daemon/config.ts'

const DOC = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url))

test('every config key has a row in docs/configuration.md', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'config-docs-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'config.yaml'), 'notAKey: 1\n')
  // The unknown-key error lists the keys the file takes.
  const err = await loadConfig(dir, { env: {} }).then(() => assert.fail('accepted an unknown key'), (e: Error) => e)
  const keys = /the keys are (.*)$/.exec(err.message)?.[1]?.split(', ') ?? []
  assert.ok(keys.length > 10, err.message)
  const doc = await readFile(DOC, 'utf8')
  const missing = keys.filter(key => !doc.includes(`| \`${key}\` |`))
  assert.deepEqual(missing, [], 'keys without a row in docs/configuration.md')
})
