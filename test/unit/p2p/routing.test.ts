import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { CombinedRouting, MemoryRoutingTable, digestToCid, merge } from '../../../src/p2p/routing.ts'
import { digestOf } from '../../../src/oci/digest.ts'

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
}

test('a digest maps to the raw-codec CIDv1 of the same bytes', () => {
  // The CID of empty content, as IPFS names it (sha256 of nothing = e3b0c442...).
  assert.equal(digestToCid(digestOf('')).toString(), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
  assert.equal(digestToCid(digestOf('x', 'sha512')).multihash.code, 0x13)
})

test('memory routing: provide, find (never yourself), withdraw', async () => {
  const table = new MemoryRoutingTable()
  const [a, b, c] = await Promise.all([peer(), peer(), peer()])
  const ra = table.routingFor(a)
  const rb = table.routingFor(b)
  const digest = digestOf('blob')
  await ra.provide(digest)
  await rb.provide(digest)
  const found = await collect(table.routingFor(c).findProviders(digest))
  assert.deepEqual(found.map(String).sort(), [a, b].map(String).sort())
  assert.deepEqual((await collect(ra.findProviders(digest))).map(String), [b.toString()])
  await rb.withdraw(digest)
  assert.deepEqual((await collect(table.routingFor(c).findProviders(digest))).map(String), [a.toString()])
})

test('combined routing yields each provider once, even when one source fails', async () => {
  const table = new MemoryRoutingTable()
  const [a, b] = await Promise.all([peer(), peer()])
  const digest = digestOf('blob')
  await table.routingFor(a).provide(digest)
  const failing = {
    provide: async () => {},
    withdraw: async () => {},
    findProviders: async function * (): AsyncIterable<PeerId> { yield a; throw new Error('dht down') }
  }
  const combined = new CombinedRouting([table.routingFor(b), failing])
  assert.deepEqual((await collect(combined.findProviders(digest))).map(String), [a.toString()])
})

test('merge interleaves sources as their items arrive', async () => {
  const slow = async function * (): AsyncIterable<number> { await new Promise(resolve => setTimeout(resolve, 20)); yield 1 }
  const fast = async function * (): AsyncIterable<number> { yield 2; yield 3 }
  assert.deepEqual(await collect(merge([slow(), fast()])), [2, 3, 1])
})
