/**
 * Finding 1 of the hostile-peer review: two peers holding another image under a tag outvoted the honest holder,
 * and a node replaced a ref it held. A tag is now taken only from trusted peers, trusted peers that disagree are
 * an error, and a held ref moves only when forced (docs/protocol.md §4.4).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, putImage, startPeer, type Peer } from './helpers.ts'

const TAG = 'app/base:1.0'

interface Scene { honest: Peer, fakes: Peer[], real: string, fake: string, ids: string[], layers: Buffer[] }

async function scene (t: Parameters<typeof startPeer>[0]): Promise<Scene> {
  const [honest, ...fakes] = await Promise.all([startPeer(t), startPeer(t), startPeer(t)])
  const layers = [randomBytes(3000)]
  const real = await putImage(honest.store, TAG, layers)
  // Both fakes hold the same other image under the tag: together they outnumber the honest holder.
  const other = [randomBytes(3000)]
  const fake = (await Promise.all(fakes.map(async f => await putImage(f.store, TAG, other))))[0]?.manifest.digest as string
  const ids = [honest, ...fakes].map(p => p.p2p.peerId.toString())
  return { honest, fakes, real: real.manifest.digest, fake, ids, layers }
}

async function victim (t: Parameters<typeof startPeer>[0], peers: Peer[], options: Parameters<typeof startPeer>[1] = {}): Promise<Peer> {
  const node = await startPeer(t, options)
  for (const peer of peers) await connect(node, peer)
  return node
}

test('with the defaults, a tag is resolved by nobody: the outvoting fakes get nothing stored', async t => {
  const { honest, fakes, fake } = await scene(t)
  const node = await victim(t, [honest, ...fakes])
  await assert.rejects(node.p2p.pullImage(TAG), { name: 'UntrustedTagError' })
  assert.equal(await node.store.refs.get(TAG), undefined)
  assert.equal(await node.store.blobs.has(fake as never), false)
})

test('a node that trusts the honest holder gets its image, whatever the fakes answer', async t => {
  const { honest, fakes, real } = await scene(t)
  const node = await victim(t, [...fakes, honest], { trustedPeers: [honest.p2p.peerId.toString()] })
  assert.equal((await node.p2p.pullImage(TAG)).descriptor.digest, real)
})

test('trusted peers that disagree are an error naming each digest and its peers, and nothing is written', async t => {
  const { honest, fakes, real, fake, ids } = await scene(t)
  const node = await victim(t, [honest, ...fakes], { allowList: ids })
  await assert.rejects(node.p2p.pullImage(TAG), (err: Error) => {
    assert.equal(err.name, 'TagConflictError')
    for (const text of [real, fake, ...ids]) assert.ok(err.message.includes(text), `${err.message} names ${text}`)
    return true
  })
  assert.equal(await node.store.refs.get(TAG), undefined)
})

test('a node that holds the honest image keeps its ref when the peers it trusts point elsewhere', async t => {
  const { honest, fakes, real, layers } = await scene(t)
  const node = await victim(t, [honest, ...fakes], { trustedPeers: fakes.map(f => f.p2p.peerId.toString()) })
  assert.equal((await putImage(node.store, TAG, layers)).manifest.digest, real)
  // A held tag is not asked of peers at all: the pull completes what the node has and moves nothing.
  const result = await node.p2p.pullImage(TAG)
  assert.equal(result.descriptor.digest, real)
  assert.equal(result.fetchedBytes, 0)
  assert.equal((await node.store.refs.get(TAG))?.digest, real)
  // Writing what they claim under the held name is refused, naming what the node holds.
  const claimed = (await fakes[0]?.store.refs.get(TAG))?.digest
  assert.ok(claimed !== undefined && claimed !== real)
  await assert.rejects(node.p2p.pullImage(claimed, { tagAs: TAG }), (err: Error) => err.name === 'RefExistsError' && err.message.includes(real))
  assert.equal((await node.store.refs.get(TAG))?.digest, real)
})
