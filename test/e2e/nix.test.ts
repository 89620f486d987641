/**
 * Nix closures between three nodes started from the CLI, each a separate process with its own data dir and its
 * own Nix store: A (the system store) and C (a chroot store) share a closure, B pulls it with `emergence nix pull`
 * from both into its empty chroot store; trusted keys refuse what no trusted key signed; and B's binary cache
 * serves `nix copy` a closure B does not hold, fetched from A on demand, signed with B's key, when B trusts A's
 * Nix key (and not otherwise); a node's cache serves what it shared, not the rest of its Nix store.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startNode, stopAll, type ClusterNode } from '../../scripts/lib/cluster.ts'
import { formatPublicKey, generateSecretKey, type NixPullResult } from '../../src/nix/index.ts'
import type { NodeStatus } from '../../src/daemon/daemon.ts'
import { NIX_COMMAND, NIX_ENV, makeTempDir, nixStore, removeDir, requireNix } from '../integration/nix/helpers.ts'
import { buildNetClosure, copyToStore, requisites, type NetClosure } from '../integration/nix-p2p/helpers.ts'

const run = promisify(execFile)

let work: string | undefined
let nodes: ClusterNode[] = []
let big: NetClosure
let onDemand: NetClosure
let signed: NetClosure
const store = (name: string): string => join(work ?? '', `${name}-nix`)

async function json<T> (node: ClusterNode, args: string[]): Promise<T> {
  const result = await node.cli(args, { json: true })
  assert.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as T
}

async function assertValid (storeRoot: string, closure: NetClosure): Promise<void> {
  for (const path of closure.all) await nixStore(['--store', storeRoot, '--verify-path', path])
  assert.deepEqual(await requisites(closure.root, storeRoot), closure.all)
}

before(async () => {
  await requireNix()
  work = await makeTempDir('emergence-e2e-nix-')
  big = await buildNetClosure(work, 'emergence-e2e-big', [3_000_000, 2_000_000, 4_000_000, 2_500_000])
  onDemand = await buildNetClosure(work, 'emergence-e2e-cache', [300_000, 200_000])
  signed = await buildNetClosure(work, 'emergence-e2e-signed', [100_000, 150_000])
  await copyToStore(big.root, store('c'))
  // Sharers upload at a capped rate, so that one of them cannot serve the whole closure before the other is asked.
  const common = { env: NIX_ENV, extraArgs: ['--nix-cache', '127.0.0.1:0', '--upload-limit', '3M'] }
  const a = await startNode({ ...common, dataDir: join(work, 'a') })
  nodes.push(a)
  const started = await Promise.all(['b', 'c'].map(async name => await startNode({
    ...common, dataDir: join(work ?? '', name), bootstrap: [a.address], extraArgs: [...common.extraArgs, '--nix-store', store(name)]
  })))
  nodes.push(...started)
  const [, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode]
  assert.equal((await b.cli(['node', 'dial', c.address])).status, 0)
  for (const [node, closures] of [[a, [big, onDemand, signed]], [c, [big]]] as const) {
    const shared = await node.cli(['nix', 'share', ...closures.map(cl => cl.root)])
    assert.equal(shared.status, 0, shared.stderr)
  }
})

after(async () => {
  await stopAll(nodes)
  nodes = []
  await removeDir(work)
})

test('B pulls a closure from A and C at once into its own Nix store, where Nix verifies it', async () => {
  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode]
  const pulled = await json<NixPullResult>(b, ['nix', 'pull', big.root])
  assert.deepEqual([...pulled.imported].sort(), big.all)
  await assertValid(store('b'), big)
  for (const sharer of [a, c]) assert.ok((pulled.fromPeers[sharer.peerId] ?? 0) > 0, `bytes came from ${sharer.peerId}: ${JSON.stringify(pulled.fromPeers)}`)
  const listed = await json<Array<{ path: string, kind: string }>>(b, ['nix', 'ls'])
  assert.deepEqual(listed.filter(r => r.kind === 'path').map(r => r.path).sort(), big.all, 'B serves what it pulled')
})

test('with a trusted key that signed nothing, the pull is refused and nothing is imported', async () => {
  const [a, b] = nodes as [ClusterNode, ClusterNode]
  const stranger = formatPublicKey(generateSecretKey('stranger-1').publicKey)
  const refused = await b.cli(['nix', 'pull', signed.root, '--trusted-key', stranger])
  assert.notEqual(refused.status, 0)
  assert.match(refused.stderr, /emergence: error: .*no valid signature from a trusted key/)
  for (const path of signed.all) assert.equal(await isValid(store('b'), path), false, `${path} was not imported`)

  const { nixPublicKey } = await json<NodeStatus>(a, ['node', 'status'])
  const accepted = await json<NixPullResult>(b, ['nix', 'pull', signed.root, '--trusted-key', nixPublicKey])
  assert.deepEqual([...accepted.imported].sort(), signed.all)
})

test('nix copy from a node\'s binary cache gets a closure the node fetches from A on demand, signed by the node', async () => {
  const [a] = nodes as [ClusterNode]
  // The cache fetches from peers only records signed by a key the node trusts (here A's).
  const aKey = (await json<{ publicKey: string }>(a, ['nix', 'key'])).publicKey
  const d = await startNode({
    env: NIX_ENV, dataDir: join(work ?? '', 'd'), bootstrap: [a.address],
    extraArgs: ['--nix-cache', '127.0.0.1:0', '--nix-store', store('d'), '--nix-trusted-key', aKey]
  })
  nodes.push(d)
  const status = await json<NodeStatus>(d, ['node', 'status'])
  assert.ok(status.nixCache?.startsWith('http://127.0.0.1:'), `the node runs its cache on loopback: ${String(status.nixCache)}`)
  assert.equal(await isValid(store('d'), onDemand.root), false, 'the node does not hold the closure in its Nix store')
  const target = store('copy')
  await run('nix', [...NIX_COMMAND, 'copy', '--from', status.nixCache ?? '', '--to', target,
    '--option', 'substituters', '', '--option', 'require-sigs', 'true', '--option', 'trusted-public-keys', status.nixPublicKey,
    '--option', 'narinfo-cache-negative-ttl', '0', '--option', 'narinfo-cache-positive-ttl', '0', onDemand.root],
  { env: { ...NIX_ENV, XDG_CACHE_HOME: join(work ?? '', 'xdg-cache') } })
  await assertValid(target, onDemand)
  const listed = await json<Array<{ path: string }>>(d, ['nix', 'ls'])
  for (const path of onDemand.all) assert.ok(listed.some(r => r.path === path), `the node kept ${path} to serve onward`)
})

test('without trusted Nix keys, a node\'s binary cache does not serve what only peers have', async () => {
  const [, b] = nodes as [ClusterNode, ClusterNode]
  const status = await json<NodeStatus>(b, ['node', 'status'])
  const hashPart = onDemand.all[0]?.slice('/nix/store/'.length, '/nix/store/'.length + 32) ?? ''
  const response = await fetch(`${status.nixCache ?? ''}/${hashPart}.narinfo`)
  assert.equal(response.status, 404)
})

test('a node\'s binary cache serves the paths it shared, not the rest of its Nix store', async () => {
  const [a] = nodes as [ClusterNode]
  const status = await json<NodeStatus>(a, ['node', 'status'])
  const hashPart = (path: string): string => path.slice('/nix/store/'.length, '/nix/store/'.length + 32)
  // The derivation that built a shared path is a valid path of A's (system) Nix store that A never shared.
  const deriver = (await nixStore(['--query', '--deriver', big.root])).trim()
  assert.equal(await nixStore(['--check-validity', deriver]).then(() => true, () => false), true, `${deriver} is in A's Nix store`)
  assert.equal((await fetch(`${status.nixCache ?? ''}/${hashPart(big.root)}.narinfo`)).status, 200)
  assert.equal((await fetch(`${status.nixCache ?? ''}/${hashPart(deriver)}.narinfo`)).status, 404)
})

async function isValid (storeRoot: string, path: string): Promise<boolean> {
  return await nixStore(['--store', storeRoot, '--check-validity', path]).then(() => true, () => false)
}
