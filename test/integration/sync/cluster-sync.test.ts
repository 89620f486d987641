/**
 * Cluster sync between three real nodes on loopback (separate `emergence node start` processes and data dirs):
 * `sync add` on node 1 reaches nodes 2 and 3, which pull the image; the automatic GC keeps it; `sync rm`
 * propagates; a document from a node that is not a publisher is refused, and a node that is not its own
 * publisher cannot change the set.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startNode, type ClusterNode } from '../../../scripts/lib/cluster.ts'
import { controlRequest } from '../../../src/daemon/control-client.ts'
import { socketPath } from '../../../src/daemon/socket-path.ts'
import { storeRoot } from '../../../src/store/paths.ts'
import { Store } from '../../../src/store/store.ts'
import type { DesiredItem, SyncStatus } from '../../../src/sync/index.ts'
import { waitFor } from '../../e2e/faults/lab.ts'
import { putImage } from '../../helpers/store.ts'

const EXTRA = ['--nix-cache', 'off', '--registry', 'off', '--admin', 'off']

async function seedImage (dataDir: string, ref: string, note: string): Promise<string> {
  const store = await Store.open(storeRoot(dataDir))
  const image = await putImage(store, [`layer of ${note} `.repeat(20_000)], note)
  await store.refs.set(ref, image.manifest)
  return image.manifest.digest
}

async function json<T> (node: ClusterNode, args: string[]): Promise<T> {
  const result = await node.cli(args, { json: true })
  assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

async function status (node: ClusterNode): Promise<SyncStatus> {
  return await json<SyncStatus>(node, ['sync', 'status'])
}

async function refDigest (node: ClusterNode, ref: string): Promise<string | undefined> {
  const store = await Store.open(storeRoot(node.dataDir))
  return (await store.refs.get(ref))?.digest
}

describe('cluster sync on three nodes', () => {
  const nodes: ClusterNode[] = []
  let n1: ClusterNode, n2: ClusterNode, n3: ClusterNode
  let appDigest: string
  let work: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'sync-cluster-'))
    appDigest = await seedImage(join(work, 'n1'), 'sync/app:1', 'app')
    await seedImage(join(work, 'n3'), 'sync/rogue:1', 'rogue')
    await seedImage(join(work, 'n2'), 'sync/unwanted:1', 'unwanted')
    n1 = await startNode({ dataDir: join(work, 'n1'), extraArgs: EXTRA })
    nodes.push(n1)
    // Node 2 names its publishers (node 1 alone, not itself); node 3 takes the default: itself and its trusted peers.
    // Node 2's store is over its GC cap from the start: a GC pass evicts whatever is not protected.
    await writeFile(join(work, 'n2.yaml'), `syncPublishers: [${n1.peerId}]\ngcMaxStoreSize: 1K\ngcInterval: off\n`)
    n2 = await startNode({ dataDir: join(work, 'n2'), bootstrap: [n1.address], extraArgs: [...EXTRA, '--config', join(work, 'n2.yaml')] })
    nodes.push(n2)
    n3 = await startNode({ dataDir: join(work, 'n3'), bootstrap: [n1.address], trusted: [n1.peerId], extraArgs: EXTRA })
    nodes.push(n3)
  })
  after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await rm(work, { recursive: true, force: true })
  })

  it('an image added on node 1 reaches nodes 2 and 3, which pull it and say they are in sync', async () => {
    const added = await json<DesiredItem>(n1, ['sync', 'add', 'sync/app:1'])
    assert.deepEqual(added.item, { kind: 'image', ref: 'sync/app:1', digest: appDigest })
    for (const node of [n2, n3]) {
      await waitFor('the image on every node', async () => {
        const s = await status(node)
        return s.inSync && s.items.some(i => i.key === 'sync/app:1' && i.state === 'held')
      })
      assert.equal(await refDigest(node, 'sync/app:1'), appDigest)
      const listed = await json<DesiredItem[]>(node, ['sync', 'ls'])
      assert.deepEqual(listed.map(i => [i.key, i.publisher]), [['sync/app:1', n1.peerId]])
    }
    assert.equal((await status(n1)).inSync, true)
  })

  it('the automatic GC keeps the desired set and evicts the rest', async () => {
    const gc = await controlRequest(socketPath(n2.dataDir), 'POST', '/v1/gc') as { evicted: Array<{ refs: string[] }> }
    assert.deepEqual(gc.evicted.flatMap(e => e.refs), ['sync/unwanted:1'])
    assert.equal(await refDigest(n2, 'sync/app:1'), appDigest)
  })

  it('a node that is not among its own publishers cannot change the set', async () => {
    const result = await n2.cli(['sync', 'add', 'sync/app:1'], { json: true })
    assert.notEqual(result.status, 0)
    assert.equal((JSON.parse(result.stdout) as { error: { code: string } }).error.code, 'SYNC_NOT_PUBLISHER')
  })

  it('a document from a non-publisher is refused by the nodes that do not list it', async () => {
    // Node 3 publishes (it is its own publisher); node 1 does not list node 3, so it refuses the document.
    await json<DesiredItem>(n3, ['sync', 'add', 'sync/rogue:1'])
    await waitFor('node 1 to refuse node 3\'s document', async () => (await status(n1)).refused.some(r => r.publisher === n3.peerId))
    for (const node of [n1, n2]) {
      const listed = await json<DesiredItem[]>(node, ['sync', 'ls'])
      assert.deepEqual(listed.map(i => i.key), ['sync/app:1'])
    }
    assert.equal(await refDigest(n1, 'sync/rogue:1'), undefined)
  })

  it('sync rm on node 1 takes the item out of every node\'s set', async () => {
    await json(n1, ['sync', 'rm', 'sync/app:1'])
    for (const node of [n1, n2, n3]) {
      await waitFor('the removal on every node', async () => !(await json<DesiredItem[]>(node, ['sync', 'ls'])).some(i => i.key === 'sync/app:1'))
    }
    // What a node holds stays until GC; it is only no longer protected.
    assert.equal(await refDigest(n2, 'sync/app:1'), appDigest)
    const again = await n1.cli(['sync', 'rm', 'sync/app:1'], { json: true })
    assert.equal((JSON.parse(again.stdout) as { error: { code: string } }).error.code, 'SYNC_ITEM_UNKNOWN')
  })
})
