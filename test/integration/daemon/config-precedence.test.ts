/**
 * The configuration's precedence in a real `node start` (docs/configuration.md): flags over environment
 * variables over the config file over the defaults, each seen in what the running node reports.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort } from '../../../scripts/lib/ports.ts'
import { processAlive } from '../../../src/util/fs.ts'
import { tempDir } from '../../helpers/temp.ts'
import { runCli } from '../../helpers/tools.ts'

test('node start: a flag beats the environment, the environment beats the file, the file beats the default', async t => {
  const dataDir = await tempDir(t)
  const [fileRegistry, envRegistry, flagRegistry, fileCache, envCache, fileLane] = await Promise.all(Array.from({ length: 6 }, async () => await freePort()))
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'config.yaml'), [
    `registry: 127.0.0.1:${fileRegistry}`, // also in the environment and a flag: the flag wins
    `nixCache: 127.0.0.1:${fileCache}`, // also in the environment: the environment wins
    `lanePort: ${fileLane}`, // only here: the file wins over the default (any free port)
    'listen: [/ip4/127.0.0.1/tcp/0]',
    'mdns: false',
    'admin: "off"'
  ].join('\n') + '\n')
  const started = await runCli(['--json', 'node', 'start', '--detach', '--registry', `127.0.0.1:${flagRegistry}`], {
    dataDir,
    env: { EMERGENCE_REGISTRY: `127.0.0.1:${envRegistry}`, EMERGENCE_NIX_CACHE: `127.0.0.1:${envCache}` }
  })
  assert.equal(started.code, 0, started.stderr)
  const status = (JSON.parse(started.stdout) as { started: { pid: number, registry?: string, nixCache?: string, lanePort?: number } }).started
  t.after(() => { if (processAlive(status.pid)) process.kill(status.pid, 'SIGKILL') })
  try {
    assert.equal(status.registry, `http://127.0.0.1:${flagRegistry}`, 'flag > environment > file')
    assert.equal(status.nixCache, `http://127.0.0.1:${envCache}`, 'environment > file')
    assert.equal(status.lanePort, fileLane, 'file > default')
  } finally {
    assert.equal((await runCli(['node', 'stop'], { dataDir })).code, 0)
  }
})
