/** The registry mirror's settings: loopback by default, `off`, upstreams; every source validated. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../../src/daemon/config.ts'
import { tempDir } from '../../helpers/temp.ts'

test('the mirror listens on 127.0.0.1:7703 with no upstreams unless told otherwise', async t => {
  const dir = await tempDir(t)
  const config = await loadConfig(dir, { env: {} })
  assert.equal(config.registry, '127.0.0.1:7703')
  assert.deepEqual(config.registryUpstreams, [])
  assert.equal((await loadConfig(dir, { env: { EMERGENCE_REGISTRY: 'off' } })).registry, 'off')
  assert.equal((await loadConfig(dir, { env: {}, flags: { registry: '[::1]:0' } })).registry, '[::1]:0')
})

test('a bad registry address or upstream names where it came from', async t => {
  const dir = await tempDir(t)
  await assert.rejects(loadConfig(dir, { env: {}, flags: { registry: 'nowhere' } }), { name: 'InvalidConfigError', message: /--registry.*invalid address "nowhere"/ })
  await assert.rejects(loadConfig(dir, { env: { EMERGENCE_REGISTRY: 'x:y' } }), { name: 'InvalidConfigError', message: /EMERGENCE_REGISTRY/ })
  await writeFile(join(dir, 'config.yaml'), 'registryUpstreams: [docker.io, "ftp://x"]\n')
  await assert.rejects(loadConfig(dir, { env: {} }), { name: 'InvalidConfigError', message: /registryUpstreams\[1\].*invalid upstream registry "ftp:\/\/x"/ })
  await writeFile(join(dir, 'config.yaml'), 'registryUpstreams: [docker.io, "http://127.0.0.1:5000"]\n')
  assert.deepEqual((await loadConfig(dir, { env: {} })).registryUpstreams, ['docker.io', 'http://127.0.0.1:5000'])
})
