/**
 * Nix closures between in-process nodes on loopback, with the real Nix: a node shares a closure (NARs into its
 * blob store, signed records, refs), another pulls it into its own (chroot) Nix store, where Nix verifies every
 * path and agrees on the closure; the puller then serves it onward. Records are found through one closure record,
 * or reference by reference when there is none. Trusted keys refuse unsigned and forged records before a NAR moves.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  buildPathRecord, closureRef, hashPartOf, infoRef, isSignedBy, narDigest, pullClosure, readLocalRecord, sharePaths
} from '../../../src/nix/index.ts'
import { makeTempDir, nixStore, removeDir, requireNix } from '../nix/helpers.ts'
import { buildNetClosure, connect, requisites, shareContext, startNixNode, type NetClosure } from './helpers.ts'

let work: string | undefined
let closure: NetClosure
let small: NetClosure

before(async () => {
  await requireNix()
  work = await makeTempDir('nix-p2p-build-')
  closure = await buildNetClosure(work, 'emergence-np2p', [2_500_000, 1_500_000, 3_000_000])
  small = await buildNetClosure(work, 'emergence-np2p-small', [20_000, 30_000])
})
after(async () => { await removeDir(work) })

async function assertValid (storeRoot: string, expected: NetClosure): Promise<void> {
  for (const path of expected.all) await nixStore(['--store', storeRoot, '--verify-path', path])
  assert.deepEqual(await requisites(expected.root, storeRoot), expected.all)
}

test('a pulled closure verifies in the puller\'s Nix store, and the puller serves it onward', async t => {
  const a = await startNixNode(t, { systemStore: true, name: 'a' })
  const b = await startNixNode(t, { name: 'b' })
  await connect(b, a)
  const shared = await sharePaths(shareContext(a), [closure.root])
  assert.equal(shared.paths, closure.all.length)
  assert.ok(await a.store.refs.get(closureRef(closure.root)), 'the root has a closure record')
  const again = await sharePaths(shareContext(a), [closure.root])
  assert.equal(again.written, 0, 'sharing again writes no NAR')
  assert.deepEqual(again.digests, shared.digests, 'and keeps the same records')

  const events: string[] = []
  const pulled = await pullClosure(b.ctx, closure.root, { onProgress: p => { events.push(p.phase) } })
  assert.equal(pulled.via, 'closure')
  assert.deepEqual([...pulled.imported].sort(), closure.all)
  assert.equal(pulled.fromPeers[a.p2p.peerId.toString()], pulled.fetchedBytes)
  assert.equal(pulled.progress.pathsDone, closure.all.length)
  assert.deepEqual([events[0], events.at(-1)], ['resolving', 'done'])
  await assertValid(b.nix.storeRoot ?? '', closure)

  // B kept the records (the same bytes as A's) and the NARs: C, which may talk to B only, gets the closure from it.
  assert.deepEqual(await b.store.refs.get(closureRef(closure.root)).then(d => d?.digest), await a.store.refs.get(closureRef(closure.root)).then(d => d?.digest))
  const c = await startNixNode(t, { name: 'c', allowList: [b.p2p.peerId.toString()] })
  await connect(c, b)
  const onward = await pullClosure(c.ctx, closure.root)
  assert.deepEqual(Object.keys(onward.fromPeers), [b.p2p.peerId.toString()])
  await assertValid(c.nix.storeRoot ?? '', closure)
  assert.equal((await pullClosure(c.ctx, closure.root)).via, 'local', 'a second pull finds everything valid')
})

test('without a closure record the references are followed one level at a time', async t => {
  const a = await startNixNode(t, { systemStore: true, name: 'a' })
  const b = await startNixNode(t, { name: 'b' })
  await connect(b, a)
  await sharePaths(shareContext(a), [small.root])
  await a.store.refs.remove(closureRef(small.root))
  const pulled = await pullClosure(b.ctx, small.root)
  assert.equal(pulled.via, 'references')
  assert.deepEqual([...pulled.imported].sort(), small.all)
  await assertValid(b.nix.storeRoot ?? '', small)
})

test('with trusted keys, an unsigned or forged record is refused before any NAR moves', async t => {
  const a = await startNixNode(t, { systemStore: true, name: 'a' })
  const stranger = await startNixNode(t, { name: 'stranger' })
  const b = await startNixNode(t, { name: 'b', trustedKeys: [stranger.key.publicKey] })
  await connect(b, a)
  await sharePaths(shareContext(a), [small.root])
  const narDigests = (await a.nix.closure([small.root])).map(info => narDigest(info.narHash))

  // Signed by A, whom B does not trust.
  await assert.rejects(pullClosure(b.ctx, small.root), { name: 'SignatureError' })
  for (const path of small.all) assert.equal(await b.nix.isValid(path), false, `${path} was not imported`)
  for (const digest of narDigests) assert.equal(await b.store.blobs.has(digest), false, 'no NAR was pulled')

  // A record changed after A signed it (naming another path's NAR: other bytes under this path) fails A's
  // signature, so a node trusting A refuses it.
  const [leaf, other] = await a.nix.pathInfos([small.all.find(p => p.endsWith('-p0')) ?? '', small.all.find(p => p.endsWith('-p1')) ?? ''])
  assert.ok(leaf !== undefined && other !== undefined)
  const signedByA = await readLocalRecord(a.store, hashPartOf(leaf.path))
  assert.ok(signedByA !== undefined && isSignedBy(signedByA.info, [a.key.publicKey]))
  const forged = buildPathRecord({ ...signedByA.info, narHash: other.narHash, narSize: other.narSize })
  await a.store.blobs.write(forged.descriptor.digest, [forged.bytes], { size: forged.bytes.byteLength })
  await a.store.refs.setMany([{ ref: infoRef(leaf.path), descriptor: forged.descriptor }])
  a.p2p.blobAdded(forged.descriptor.digest)
  const trusting = await startNixNode(t, { name: 'trusting', trustedKeys: [a.key.publicKey] })
  await connect(trusting, a)
  await assert.rejects(pullClosure(trusting.ctx, leaf.path), { name: 'SignatureError' })
  assert.equal(await trusting.nix.isValid(leaf.path), false)

  // The genuine record, signed by A, is accepted by a node that trusts A.
  await sharePaths(shareContext(a), [small.root])
  const accepted = await pullClosure(trusting.ctx, small.root)
  assert.deepEqual([...accepted.imported].sort(), small.all)
})

test('with trusted keys, records the majority gives but no trusted key signed give way to a dissenter\'s', async t => {
  // A and D hold A's records (D pulled them), C its own: RESOLVE's majority answer is A's, which B does not trust.
  const a = await startNixNode(t, { systemStore: true, name: 'a' })
  const c = await startNixNode(t, { systemStore: true, name: 'c' })
  const d = await startNixNode(t, { name: 'd' })
  await connect(d, a)
  await sharePaths(shareContext(a), [small.root])
  await pullClosure(d.ctx, small.root)
  await sharePaths(shareContext(c), [small.root])
  const b = await startNixNode(t, { name: 'b', trustedKeys: [c.key.publicKey] })
  for (const peer of [a, c, d]) await connect(b, peer)
  const ofA = await a.store.refs.get(closureRef(small.root))
  assert.equal((await d.store.refs.get(closureRef(small.root)))?.digest, ofA?.digest)
  assert.notEqual((await c.store.refs.get(closureRef(small.root)))?.digest, ofA?.digest)

  const pulled = await pullClosure(b.ctx, small.root)
  assert.deepEqual([...pulled.imported].sort(), small.all)
  assert.equal((await b.store.refs.get(closureRef(small.root)))?.digest, (await c.store.refs.get(closureRef(small.root)))?.digest, 'B kept the records C signed')
})

test('a root nobody shares ends in PathNotSharedError with nothing imported', async t => {
  const a = await startNixNode(t, { systemStore: true, name: 'a' })
  const b = await startNixNode(t, { name: 'b' })
  await connect(b, a)
  await assert.rejects(pullClosure(b.ctx, small.root), { name: 'PathNotSharedError' })
  assert.equal(await b.nix.isValid(small.root), false)
})
