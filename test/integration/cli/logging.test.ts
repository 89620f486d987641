/**
 * The node's logs as an operator gets them: JSON lines when stderr is a file (a detached node's `node.log`), with
 * time, level and component, at the level `--log-level` sets over `EMERGENCE_LOG`, and `EMERGENCE_LOG` over the
 * config file's `logLevel`.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { runCli } from '../../helpers/tools.ts'
import { tempDir } from '../../helpers/temp.ts'

const QUIET_NODE = ['node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--lane-port', 'off', '--nix-cache', 'off', '--registry', 'off', '--admin', 'off']

/** Starts a detached node with `args` and `env`, stops it, and returns its log's lines, parsed. */
async function nodeLog (t: TestContext, args: string[], env: Record<string, string>, configYaml?: string): Promise<Array<Record<string, unknown>>> {
  const dataDir = await tempDir(t)
  if (configYaml !== undefined) await writeFile(join(dataDir, 'config.yaml'), configYaml)
  const started = await runCli([...args, ...QUIET_NODE], { dataDir, env })
  assert.equal(started.code, 0, started.stderr)
  const stopped = await runCli(['node', 'stop'], { dataDir })
  assert.equal(stopped.code, 0, stopped.stderr)
  const lines = (await readFile(join(dataDir, 'node.log'), 'utf8')).split('\n').filter(line => line.startsWith('{'))
  return lines.map(line => JSON.parse(line) as Record<string, unknown>)
}

test('a detached node logs JSON lines with time, level and component; --log-level wins over EMERGENCE_LOG', async t => {
  const records = await nodeLog(t, ['--log-level', 'info'], { EMERGENCE_LOG: 'error' })
  const announced = records.find(r => typeof r.msg === 'string' && r.msg.startsWith('announced '))
  assert.ok(announced !== undefined, `an info line: ${JSON.stringify(records)}`)
  assert.equal(announced.level, 'info')
  assert.equal(announced.component, 'daemon')
  assert.match(String(announced.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.ok(records.some(r => r.msg === 'stopping'))

  const quiet = await nodeLog(t, ['--log-level', 'warn'], { EMERGENCE_LOG: 'info' })
  assert.deepEqual(quiet.filter(r => r.level === 'info' || r.level === 'debug'), [], 'nothing below warn')
})

test('EMERGENCE_LOG wins over the config file\'s logLevel, which applies without it', async t => {
  const fromFile = await nodeLog(t, [], { EMERGENCE_LOG: '' }, 'logLevel: info\n')
  assert.ok(fromFile.some(r => r.level === 'info' && r.component === 'daemon'), 'info lines from logLevel: info')
  const fromEnv = await nodeLog(t, [], { EMERGENCE_LOG: 'warn' }, 'logLevel: info\n')
  assert.deepEqual(fromEnv.filter(r => r.level === 'info'), [])
})
