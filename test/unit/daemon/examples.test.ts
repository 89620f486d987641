/** The example configuration stays valid: every key it shows is one the node takes. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../../src/daemon/config.ts'

const EXAMPLE = fileURLToPath(new URL('../../../examples/config.yaml', import.meta.url))

test('examples/config.yaml loads, and its values reach the node config', async () => {
  const config = await loadConfig('/nonexistent-data-dir', { configFile: EXAMPLE, env: {} })
  assert.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/7701'])
  assert.equal(config.trustedPeers.length, 1)
  assert.equal(config.lanePort, 7711)
  assert.equal(config.uploadLimit, 100 * 1024 * 1024)
  assert.equal(config.mdns, false)
  assert.equal(config.nixCache, '127.0.0.1:7702')
  assert.equal(config.registry, '127.0.0.1:7703')
  assert.equal(config.gcHighWatermark, 0.9)
  assert.equal(config.gcLowWatermark, 0.8)
  assert.equal(config.gcMaxStoreSize, 50 * 1024 ** 3)
  assert.equal(config.gcInterval, 300)
})
