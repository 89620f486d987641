/**
 * The control socket (src/daemon/control-server.ts): created with mode 0600; a second node on the same data dir
 * is refused while the first answers; a socket left by a node killed with SIGKILL is taken over by the next one.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { processAlive } from '../../../src/util/fs.ts'
import { tempDir } from '../../helpers/temp.ts'
import { assertCliError, runCli } from '../../helpers/tools.ts'

const NODE_ARGS = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--lane-port', 'off', '--nix-cache', 'off', '--registry', 'off']

test('the control socket: mode 0600, a live node keeps it, a SIGKILLed node\'s socket is taken over', async t => {
  const dataDir = await tempDir(t)
  const socket = join(dataDir, 'emergence.sock')
  const pids: number[] = []
  t.after(() => { for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL') })
  async function start (): Promise<number> {
    const started = await runCli(['--json', 'node', 'start', '--detach', ...NODE_ARGS], { dataDir, env: { EMERGENCE_ADMIN: 'off' } })
    assert.equal(started.code, 0, started.stderr)
    const pid = (JSON.parse(started.stdout) as { started: { pid: number } }).started.pid
    pids.push(pid)
    return pid
  }

  const first = await start()
  const info = await stat(socket)
  assert.ok(info.isSocket())
  assert.equal(info.mode & 0o777, 0o600)

  // A second node on the same data dir is refused, in one line, and the first keeps answering on its socket.
  const line = assertCliError(await runCli(['node', 'start', ...NODE_ARGS], { dataDir, env: { EMERGENCE_ADMIN: 'off' } }))
  assert.match(line, /a node is already running on .*emergence\.sock/)
  const status = await runCli(['--json', 'node', 'status'], { dataDir })
  assert.equal(status.code, 0, status.stderr)
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, first)

  // Killed without a chance to clean up: the socket file stays, nothing listens on it.
  process.kill(first, 'SIGKILL')
  while (processAlive(first)) await new Promise(resolve => setTimeout(resolve, 20))
  assert.ok(existsSync(socket), 'a SIGKILLed node leaves its socket behind')
  const second = await start()
  assert.notEqual(second, first)
  const after = await runCli(['--json', 'node', 'status'], { dataDir })
  assert.equal((JSON.parse(after.stdout) as { pid: number }).pid, second)
  assert.equal((await stat(socket)).mode & 0o777, 0o600)
  assert.equal((await runCli(['node', 'stop'], { dataDir })).code, 0)
  assert.equal(existsSync(socket), false)
})
