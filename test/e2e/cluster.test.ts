/**
 * Three nodes started from the CLI, each a separate process with its own store, move an image with
 * `emergence pull`; the pulled stores verify and skopeo reads them. An allow-listed node refuses a stranger.
 */
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, startNode, stopAll, runToEnd, EMERGENCE_BIN, type ClusterNode } from '../../scripts/lib/cluster.ts'
import { buildUmociFixture } from '../helpers/umoci.ts'
import { tool } from '../helpers/tools.ts'

let nodes: ClusterNode[] = []
let work = ''

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'emergence-e2e-'))
  const fixture = await buildUmociFixture(work)
  // A layer of several pieces, so that the pull really spreads over peers.
  const big = join(work, 'big.bin')
  await writeFile(big, randomBytes(6 * 1024 * 1024))
  await tool('umoci', ['insert', '--image', `${fixture.layout}:app`, big, '/big.bin'])
  nodes = await startCluster([join(work, 'n1'), join(work, 'n2'), join(work, 'n3')])
  const imported = await nodes[0]!.cli(['image', 'import', `${fixture.layout}:app`, '--name', 'e2e/app:1'])
  assert.equal(imported.status, 0, imported.stderr)
})

after(async () => {
  await stopAll(nodes)
  if (work !== '') await rm(work, { recursive: true, force: true })
})

async function json<T> (node: ClusterNode, args: string[]): Promise<T> {
  const result = await node.cli(args, { json: true })
  assert.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as T
}

test('two nodes pull the same image at once from the CLI and end with identical verified stores', async () => {
  const [seed, a, b] = nodes as [ClusterNode, ClusterNode, ClusterNode]
  const pulls = await Promise.all([a, b].map(async node => await node.cli(['pull', 'e2e/app:1'])))
  for (const pull of pulls) assert.equal(pull.status, 0, pull.stderr)
  const seedList = await json<Array<{ ref: string, digest: string }>>(seed, ['image', 'ls'])
  for (const node of [a, b]) {
    const list = await json<Array<{ ref: string, digest: string }>>(node, ['image', 'ls'])
    assert.deepEqual(list.map(i => [i.ref, i.digest]), seedList.map(i => [i.ref, i.digest]))
    const verify = await node.cli(['store', 'verify'])
    assert.equal(verify.status, 0, verify.stderr)
    const { path } = await json<{ path: string }>(node, ['store', 'path'])
    const inspected = await tool('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${path}:e2e/app:1`])
    assert.equal(inspected.trim(), seedList[0]?.digest)
  }
  const status = await json<{ servedBytes: number, peers: number }>(seed, ['node', 'status'])
  assert.ok(status.servedBytes > 0, 'the seed served bytes')
  assert.equal(status.peers, 2)
})

test('a pull of an image nobody has fails with one clear line and a non-zero exit code', async () => {
  const result = await nodes[1]!.cli(['pull', 'e2e/absent:1'])
  assert.notEqual(result.status, 0)
  const lines = result.stderr.trim().split('\n').filter(l => l.startsWith('emergence: error:'))
  assert.equal(lines.length, 1, result.stderr)
})

test('a node that trusts nobody refuses a tag with one line that says how to configure trust, and pulls by digest', async () => {
  const seed = nodes[0]!
  const loner = await startNode({ dataDir: join(work, 'loner'), bootstrap: [seed.address] })
  try {
    const refused = await loner.cli(['pull', 'e2e/app:1'])
    assert.notEqual(refused.status, 0)
    const lines = refused.stderr.trim().split('\n').filter(l => l.startsWith('emergence: error:'))
    assert.equal(lines.length, 1, refused.stderr)
    assert.match(lines[0] ?? '', /no peer is trusted to resolve tags.*--trusted <peer ids>.*trustedPeers:/)
    const [image] = await json<Array<{ digest: string }>>(seed, ['image', 'ls'])
    const byDigest = await loner.cli(['pull', `e2e/app@${image?.digest ?? ''}`])
    assert.equal(byDigest.status, 0, byDigest.stderr)
  } finally {
    await stopAll([loner])
  }
})

test('an allow-listed node refuses a stranger, which then cannot pull from it', async () => {
  const seed = nodes[0]!
  const guarded = await startNode({ dataDir: join(work, 'guarded'), allow: [seed.peerId], bootstrap: [seed.address] })
  // The stranger trusts the guarded node, so that only the allow-list stands between them.
  const stranger = await startNode({ dataDir: join(work, 'stranger'), trusted: [guarded.peerId] })
  try {
    const pulled = await guarded.cli(['pull', 'e2e/app:1'])
    assert.equal(pulled.status, 0, `an allowed peer serves the guarded node: ${pulled.stderr}`)
    await stranger.cli(['node', 'dial', guarded.address])
    const refused = await stranger.cli(['pull', 'e2e/app:1'])
    assert.notEqual(refused.status, 0, 'the stranger got nothing from the guarded node')
    const peers = await json<Array<{ peerId: string }>>(guarded, ['peers'])
    assert.ok(!peers.some(p => p.peerId === stranger.peerId), 'the stranger is not connected')
  } finally {
    await stopAll([guarded, stranger])
  }
})

test('a second node on the same data dir is refused with one clear line, and the first keeps answering', async () => {
  const seed = nodes[0]!
  const second = await runToEnd(EMERGENCE_BIN, ['--data-dir', seed.dataDir, 'node', 'start', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
  assert.notEqual(second.status, 0)
  assert.match(second.stderr, /^emergence: error: a node is already running on /m)
  const status = await json<{ peerId: string }>(seed, ['node', 'status'])
  assert.equal(status.peerId, seed.peerId)
})
