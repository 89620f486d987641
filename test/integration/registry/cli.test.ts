/**
 * The mirror as a user meets it: `node start` runs it on the `--registry` address (compiled CLI, a real daemon
 * process), skopeo pulls through it, and `containerd configure` writes containerd's hosts.toml.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { storeRoot } from '../../../src/store/paths.ts'
import { Store } from '../../../src/store/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { assertCliError, runCli } from '../../helpers/tools.ts'
import { get, putGzipImage, skopeoCopy } from './helpers.ts'
import { startDetachedNode } from './processes.ts'

async function startNode (t: TestContext, dataDir: string, registry: string): Promise<{ pid: number, registry?: string }> {
  return await startDetachedNode(t, dataDir, ['--registry', registry])
}

test('`node start --registry` serves the store over the distribution API; skopeo copies from it', async t => {
  const dir = await tempDir(t, 'emergence-registry-cli-')
  const dataDir = join(dir, 'data')
  const image = await putGzipImage(await Store.open(storeRoot(dataDir)), 'app/web:1.0', [randomBytes(50_000)])
  const status = await startNode(t, dataDir, '127.0.0.1:0')
  assert.match(status.registry ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
  const url = status.registry as string
  assert.equal((await get(`${url}/v2/`)).status, 200)
  const copied = await skopeoCopy({ url }, 'app/web:1.0', join(dir, 'copy'))
  assert.equal(copied.manifest, image.manifest.digest)
  assert.match((await runCli(['node', 'status'], { dataDir })).stdout, new RegExp(`^registry {2}${url}$`, 'm'))
})

test('`node start --registry off` runs no mirror; a bad address is one error line', async t => {
  const dir = await tempDir(t, 'emergence-registry-cli-')
  const dataDir = join(dir, 'off')
  const status = await startNode(t, dataDir, 'off')
  assert.equal(status.registry, undefined)
  const bad = assertCliError(await runCli(['node', 'start', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--nix-cache', 'off', '--registry', 'nowhere'], { dataDir: join(dir, 'bad') }))
  assert.match(bad, /invalid address "nowhere"/)
})

test('`containerd configure` writes hosts.toml and keeps the old file', async t => {
  const dir = await tempDir(t, 'emergence-registry-cli-')
  const args = ['containerd', 'configure', '--config-path', dir, '--registry-host', '127.0.0.1:5000', '--server', 'http://127.0.0.1:5000', '--mirror', 'http://127.0.0.1:7711']
  const first = await runCli(args)
  assert.equal(first.code, 0, first.stderr)
  const path = join(dir, '127.0.0.1:5000', 'hosts.toml')
  assert.match(first.stdout, new RegExp(`^wrote ${path}`))
  const text = await readFile(path, 'utf8')
  assert.match(text, /^server = "http:\/\/127\.0\.0\.1:5000"$/m)
  assert.match(text, /^\[host\."http:\/\/127\.0\.0\.1:7711"\]\n {2}capabilities = \["pull", "resolve"\]$/m)
  const second = await runCli(['--json', ...args.slice(0, -1), 'http://127.0.0.1:7712'])
  assert.equal(second.code, 0, second.stderr)
  assert.equal((JSON.parse(second.stdout) as { backup?: string }).backup, `${path}.bak`)
  assert.equal(await readFile(`${path}.bak`, 'utf8'), text)
  assertCliError(await runCli(['containerd', 'configure', '--config-path', dir, '--mirror', 'ftp://x']))
})
