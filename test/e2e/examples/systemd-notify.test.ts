/**
 * examples/emergence.service runs the node as `Type=notify`: a foreground `node start` with NOTIFY_SOCKET set sends
 * `READY=1` once it answers, with credentials naming its own pid (the service's main process), as systemd
 * requires under `NotifyAccess=main`. The socket here is our own: a unix datagram socket read with SO_PASSCRED
 * (Python's socket module, since Node has no unix datagram sockets).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { tempDir } from '../../helpers/temp.ts'
import { CLI, REPO_ROOT } from '../../helpers/tools.ts'

/** Binds a datagram socket, prints `listening`, then one JSON line per message: its text and sender pid. */
const RECEIVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
pid = next((struct.unpack("iII", d[:12])[0] for l, t, d in anc if l == socket.SOL_SOCKET and t == socket.SCM_CREDENTIALS), None)
print(json.dumps({"message": msg.decode(), "pid": pid}), flush=True)
`

test('the systemd unit is Type=notify, and the node sends READY=1 from its main pid', async t => {
  const unit = await readFile(join(REPO_ROOT, 'examples', 'emergence.service'), 'utf8')
  assert.match(unit, /^Type=notify$/m)
  assert.match(unit, /^ExecStart=\S+\/bin\/emergence node start$/m)

  const dir = await tempDir(t)
  const socket = join(dir, 'notify.sock')
  const receiver = spawn('python3', ['-c', RECEIVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (receiver.exitCode === null) receiver.kill('SIGKILL') })
  const lines = createInterface({ input: receiver.stdout })[Symbol.asyncIterator]()
  assert.equal((await lines.next()).value, 'listening')

  const node = spawn(CLI, ['--data-dir', join(dir, 'data'), 'node', 'start', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0',
    '--lane-port', 'off', '--nix-cache', 'off', '--registry', 'off'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: socket, EMERGENCE_ADMIN: 'off' } })
  let stderr = ''
  node.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const exited = new Promise<number | null>(resolve => node.on('exit', code => { resolve(code) }))
  t.after(() => { if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL') })

  const received = await Promise.race([lines.next(), exited.then(code => assert.fail(`node exited (${String(code)}) before READY=1: ${stderr}`))])
  const { message, pid } = JSON.parse(String(received.value)) as { message: string, pid: number }
  assert.match(message, /^READY=1$/m)
  assert.match(message, /^STATUS=node 12D3Koo\w+ ready$/m)
  assert.equal(pid, node.pid, 'the credentials name the node, not systemd-notify')
  node.kill('SIGTERM')
  assert.equal(await exited, 0, stderr)
})
