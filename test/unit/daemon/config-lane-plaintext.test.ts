/** `lanePlaintext`: plaintext data lanes only when the operator says so (docs/security.md), a boolean and nothing else. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../../src/daemon/config.ts'
import { tempDir } from '../../helpers/temp.ts'

test('lanes are TLS unless the config file opts in to plaintext lanes', async t => {
  const dir = await tempDir(t)
  assert.equal((await loadConfig(dir, { env: {} })).lanePlaintext, false)
  await writeFile(join(dir, 'config.yaml'), 'lanePlaintext: true\n')
  assert.equal((await loadConfig(dir, { env: {} })).lanePlaintext, true)
})

test('a lanePlaintext that is not a boolean names the key', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'config.yaml'), 'lanePlaintext: "yes"\n')
  await assert.rejects(loadConfig(dir, { env: {} }), { name: 'InvalidConfigError', message: /lanePlaintext/ })
})
