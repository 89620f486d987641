/**
 * A Nix closure in the desired set, between in-process nodes on loopback with the real Nix and real gossipsub:
 * the publisher's `add` shares the closure (it had not), the other node learns the document and pulls the
 * closure into its own (chroot) Nix store, where Nix verifies every path; the set's records are kept from GC.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closureRef } from '../../../src/nix/index.ts'
import { startNodeSync, type SyncService } from '../../../src/sync/index.ts'
import { waitFor } from '../../e2e/faults/lab.ts'
import { makeTempDir, nixStore, removeDir, requireNix } from '../nix/helpers.ts'
import { buildNetClosure, connect, requisites, startNixNode, type NetClosure, type TestNode } from '../nix-p2p/helpers.ts'

let work: string | undefined
let closure: NetClosure

before(async () => {
  await requireNix()
  work = await makeTempDir('sync-nix-')
  closure = await buildNetClosure(work, 'emergence-sync-nix', [20_000, 30_000])
})
after(async () => { await removeDir(work) })

async function sync (node: TestNode, publishers: string[] | undefined): Promise<SyncService> {
  return await startNodeSync({ store: node.store, p2p: node.p2p, nix: node.ctx, dataDir: node.dir, publishers, trustedPeers: [] })
}

test('a closure added on one node is shared, reaches the other and verifies in its Nix store', async t => {
  const a = await startNixNode(t, { systemStore: true, name: 'a' })
  const b = await startNixNode(t, { name: 'b' })
  await connect(b, a)
  const publisher = await sync(a, undefined)
  const follower = await sync(b, [a.p2p.peerId.toString()])
  t.after(async () => { await Promise.all([publisher.stop(), follower.stop()]).catch(() => {}) })

  assert.equal(await a.store.refs.get(closureRef(closure.root)), undefined)
  const added = await publisher.add(`${closure.root}/refs`)
  assert.deepEqual(added.item, { kind: 'nix', path: closure.root })
  assert.ok(await a.store.refs.get(closureRef(closure.root)), 'add shared the closure')

  await waitFor('the closure on the other node', () => follower.status().inSync && follower.status().items.length === 1)
  for (const path of closure.all) await nixStore(['--store', b.nix.storeRoot ?? '', '--verify-path', path])
  assert.deepEqual(await requisites(closure.root, b.nix.storeRoot), closure.all)
  const record = await b.store.refs.get(closureRef(closure.root))
  assert.ok(record !== undefined && (await follower.protectedDigests()).has(record.digest), 'the closure record is kept from GC')
})
