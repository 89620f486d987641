/**
 * Where the admin endpoint listens, seen from outside the process: a node started from the CLI in a network
 * namespace of its own (so that the default ports are free whatever else runs on this host), its listening
 * sockets read with `ss`. By default the endpoint is on 127.0.0.1:7704 only; `--admin off` opens no port for it.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { startNode, type ClusterNode } from '../../../scripts/lib/cluster.ts'
import { tool } from '../../helpers/tools.ts'
import { tempDir } from '../../helpers/temp.ts'

/** A fresh network namespace with loopback up for the command that follows (root). */
const OWN_NETNS = ['unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"']

async function startIsolated (t: TestContext, extraArgs: string[]): Promise<ClusterNode> {
  const node = await startNode({ dataDir: await tempDir(t), wrap: OWN_NETNS, extraArgs })
  t.after(async () => { await node.stop() })
  return node
}

/** `host:port` of every TCP socket listening in the node's namespace. */
async function listeners (node: ClusterNode): Promise<string[]> {
  const pid = String(node.process.pid)
  const out = await tool('nsenter', ['--target', pid, '--net', 'ss', '--no-header', '--listening', '--tcp', '--numeric'])
  return out.split('\n').filter(line => line.trim() !== '').map(line => line.trim().split(/\s+/)[3] ?? '')
}

async function status (node: ClusterNode): Promise<Record<string, unknown>> {
  const result = await node.cli(['node', 'status'], { json: true })
  assert.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as Record<string, unknown>
}

test('by default the admin endpoint listens on 127.0.0.1:7704, and only there', async t => {
  const node = await startIsolated(t, [])
  assert.equal((await status(node)).admin, 'http://127.0.0.1:7704')
  const open = await listeners(node)
  assert.deepEqual(open.filter(address => address.endsWith(':7704')), ['127.0.0.1:7704'])
  const code = await tool('nsenter', ['--target', String(node.process.pid), '--net', 'curl', '--silent', '--output', '/dev/null', '--write-out', '%{http_code}', 'http://127.0.0.1:7704/readyz'])
  assert.equal(code, '200')

  // A second node on the same host finds the default port taken: it runs without the endpoint, and says so.
  const second = await startNode({ dataDir: await tempDir(t), wrap: ['nsenter', '--target', String(node.process.pid), '--net'], extraArgs: ['--lane-port', 'off', '--nix-cache', 'off', '--registry', 'off'], env: { EMERGENCE_LOG: 'warn' } })
  t.after(async () => { await second.stop() })
  assert.equal((await status(second)).admin, undefined)
  assert.deepEqual((await listeners(node)).filter(address => address.endsWith(':7704')), ['127.0.0.1:7704'])
})

test('`--admin off` opens no port for it: the node listens on libp2p, the lane, the Nix cache and the mirror only', async t => {
  const node = await startIsolated(t, ['--admin', 'off'])
  const { admin, addresses, lanePort, nixCache, registry } = await status(node) as { admin?: string, addresses: string[], lanePort: number, nixCache: string, registry: string }
  assert.equal(admin, undefined)
  const portOf = (address: string): string => /:(\d+)\/?$/.exec(address)?.[1] ?? address
  const libp2pPort = /\/tcp\/(\d+)\//.exec(addresses[0] ?? '')?.[1] ?? '?'
  const expected = [libp2pPort, String(lanePort), portOf(nixCache), portOf(registry)]
  assert.deepEqual((await listeners(node)).map(portOf).sort(), expected.sort())
})
