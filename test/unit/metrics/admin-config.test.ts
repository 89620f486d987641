/** The `admin` and `logLevel` keys: defaults, every source validated and named, flags over environment over file. */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { loadConfig } from '../../../src/daemon/config.ts'
import { tempDir } from '../../helpers/temp.ts'

test('the admin endpoint is 127.0.0.1:7704 and the log level warn unless told otherwise', async t => {
  const dir = await tempDir(t)
  const config = await loadConfig(dir, { env: {} })
  assert.equal(config.admin, '127.0.0.1:7704')
  assert.equal(config.logLevel, 'warn')
})

test('flags win over EMERGENCE_ADMIN / EMERGENCE_LOG, which win over the file', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'config.yaml'), 'admin: 127.0.0.1:9100\nlogLevel: debug\n')
  assert.deepEqual(pick(await loadConfig(dir, { env: {} })), ['127.0.0.1:9100', 'debug'])
  const env = { EMERGENCE_ADMIN: 'off', EMERGENCE_LOG: 'info' }
  assert.deepEqual(pick(await loadConfig(dir, { env })), ['off', 'info'])
  assert.deepEqual(pick(await loadConfig(dir, { env, flags: { admin: '[::1]:0', logLevel: 'error' } })), ['[::1]:0', 'error'])
})

test('a bad admin address or log level names where it came from', async t => {
  const dir = await tempDir(t)
  await assert.rejects(loadConfig(dir, { env: {}, flags: { admin: 'everywhere' } }), { name: 'InvalidConfigError', message: /--admin.*invalid address "everywhere"/ })
  await assert.rejects(loadConfig(dir, { env: { EMERGENCE_ADMIN: '7704' } }), { name: 'InvalidConfigError', message: /EMERGENCE_ADMIN/ })
  await assert.rejects(loadConfig(dir, { env: { EMERGENCE_LOG: 'loud' } }), { name: 'InvalidConfigError', message: /EMERGENCE_LOG/ })
  await writeFile(join(dir, 'config.yaml'), 'logLevel: verbose\n')
  await assert.rejects(loadConfig(dir, { env: {} }), { name: 'InvalidConfigError', message: /config\.yaml: logLevel/ })
})

function pick (config: { admin: string, logLevel: string }): [string, string] {
  return [config.admin, config.logLevel]
}

test('examples/config.yaml shows both keys', async () => {
  const example = fileURLToPath(new URL('../../../examples/config.yaml', import.meta.url))
  const config = await loadConfig('/nonexistent-data-dir', { configFile: example, env: {} })
  assert.deepEqual(pick(config), ['127.0.0.1:7704', 'info'])
})
