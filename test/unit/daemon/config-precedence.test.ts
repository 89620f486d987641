/**
 * Precedence of every key that more than one source can set (docs/configuration.md): flags over environment
 * variables over the config file over the defaults. Each case sets the key in three sources with three values.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { loadConfig, type ConfigInput, type NodeConfig } from '../../../src/daemon/config.ts'

interface Case {
  key: keyof ConfigInput
  env: string
  /** As the file, the environment and a flag give it, and as the config holds it. */
  file: unknown
  fromEnv: string
  flag: ConfigInput[keyof ConfigInput]
  expected: { file: unknown, env: unknown, flag: unknown }
}

const CASES: Case[] = [
  { key: 'listen', env: 'EMERGENCE_LISTEN', file: ['/ip4/127.0.0.1/tcp/1'], fromEnv: '/ip4/127.0.0.1/tcp/2', flag: ['/ip4/127.0.0.1/tcp/3'], expected: { file: ['/ip4/127.0.0.1/tcp/1'], env: ['/ip4/127.0.0.1/tcp/2'], flag: ['/ip4/127.0.0.1/tcp/3'] } },
  { key: 'bootstrap', env: 'EMERGENCE_BOOTSTRAP', file: ['/ip4/10.0.0.1/tcp/1'], fromEnv: '/ip4/10.0.0.2/tcp/1', flag: ['/ip4/10.0.0.3/tcp/1'], expected: { file: ['/ip4/10.0.0.1/tcp/1'], env: ['/ip4/10.0.0.2/tcp/1'], flag: ['/ip4/10.0.0.3/tcp/1'] } },
  { key: 'allowList', env: 'EMERGENCE_ALLOW', file: ['a'], fromEnv: 'b', flag: ['c'], expected: { file: ['a'], env: ['b'], flag: ['c'] } },
  { key: 'mdns', env: 'EMERGENCE_MDNS', file: true, fromEnv: 'false', flag: true, expected: { file: true, env: false, flag: true } },
  { key: 'nixStore', env: 'EMERGENCE_NIX_STORE', file: '/srv/a', fromEnv: '/srv/b', flag: '/srv/c', expected: { file: '/srv/a', env: '/srv/b', flag: '/srv/c' } },
  { key: 'nixCache', env: 'EMERGENCE_NIX_CACHE', file: '127.0.0.1:1', fromEnv: '127.0.0.1:2', flag: '127.0.0.1:3', expected: { file: '127.0.0.1:1', env: '127.0.0.1:2', flag: '127.0.0.1:3' } },
  { key: 'registry', env: 'EMERGENCE_REGISTRY', file: '127.0.0.1:1', fromEnv: '127.0.0.1:2', flag: 'off', expected: { file: '127.0.0.1:1', env: '127.0.0.1:2', flag: 'off' } },
  { key: 'admin', env: 'EMERGENCE_ADMIN', file: '127.0.0.1:1', fromEnv: '127.0.0.1:2', flag: 'off', expected: { file: '127.0.0.1:1', env: '127.0.0.1:2', flag: 'off' } },
  { key: 'logLevel', env: 'EMERGENCE_LOG', file: 'error', fromEnv: 'info', flag: 'debug', expected: { file: 'error', env: 'info', flag: 'debug' } },
  { key: 'gcHighWatermark', env: 'EMERGENCE_GC_HIGH_WATERMARK', file: '95%', fromEnv: '96%', flag: '97%', expected: { file: 0.95, env: 0.96, flag: 0.97 } },
  { key: 'gcLowWatermark', env: 'EMERGENCE_GC_LOW_WATERMARK', file: '50%', fromEnv: '60%', flag: '70%', expected: { file: 0.5, env: 0.6, flag: 0.7 } },
  { key: 'gcMaxStoreSize', env: 'EMERGENCE_GC_MAX_STORE_SIZE', file: '1G', fromEnv: '2GiB', flag: 'off', expected: { file: 1024 ** 3, env: 2 * 1024 ** 3, flag: null } },
  { key: 'gcInterval', env: 'EMERGENCE_GC_INTERVAL', file: '1m', fromEnv: '30s', flag: '1h', expected: { file: 60, env: 30, flag: 3600 } }
]

describe('config precedence: flags > environment > file > defaults', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'config-precedence-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  for (const c of CASES) {
    it(c.key, async () => {
      await rm(join(dir, 'config.yaml'), { force: true })
      const defaults = await loadConfig(dir, { env: {} })
      await writeFile(join(dir, 'config.yaml'), stringify({ [c.key]: c.file }))
      const fromFile = await loadConfig(dir, { env: {} })
      const fromEnv = await loadConfig(dir, { env: { [c.env]: c.fromEnv } })
      const fromFlag = await loadConfig(dir, { env: { [c.env]: c.fromEnv }, flags: { [c.key]: c.flag } })
      const value = (config: NodeConfig): unknown => config[c.key as keyof NodeConfig]
      assert.notDeepEqual(value(defaults), c.expected.file, 'the file value differs from the default')
      assert.deepEqual(value(fromFile), c.expected.file, 'file > default')
      assert.deepEqual(value(fromEnv), c.expected.env, 'environment > file')
      assert.deepEqual(value(fromFlag), c.expected.flag, 'flag > environment')
    })
  }
})
