import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { CombinedRouting, FallbackRouting, MemoryRoutingTable, digestToCid, merge, type Routing } from '../../../src/p2p/routing/routing.ts'
import { DhtRouting } from '../../../src/p2p/routing/dht-routing.ts'
import { isTcpAddress, parseTcpAddress } from '../../../src/p2p/node/node.ts'
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

/** A routing that answers `found` after `delayMs` and counts its searches. */
function scripted (found: PeerId[], delayMs = 0): Routing & { searches: number } {
  const routing = {
    searches: 0,
    provide: async () => {},
    withdraw: async () => {},
    findProviders: async function * (): AsyncIterable<PeerId> {
      routing.searches++
      await new Promise(resolve => setTimeout(resolve, delayMs))
      yield * found
    }
  }
  return routing
}

test('fallback routing asks the fallback only when the primary names nobody in time', async () => {
  const [a, b, c] = await Promise.all([peer(), peer(), peer()])
  const digest = digestOf('blob')
  const quickDht = scripted([b])
  const quick = new FallbackRouting(scripted([a]), quickDht, 200)
  assert.deepEqual((await collect(quick.findProviders(digest))).map(String), [a.toString()])
  assert.equal(quickDht.searches, 0, 'the connected peers answered: no DHT search')

  const emptyDht = scripted([b])
  const empty = new FallbackRouting(scripted([]), emptyDht, 200)
  assert.deepEqual((await collect(empty.findProviders(digest))).map(String), [b.toString()])
  assert.equal(emptyDht.searches, 1)

  const slow = new FallbackRouting(scripted([a, c], 100), scripted([b, a]), 20)
  assert.deepEqual((await collect(slow.findProviders(digest))).map(String).sort(), [a, b, c].map(String).sort(), 'late answers still count, each once')
})

test('the DHT routing does not repeat an announce that is running or recent', async () => {
  let provides = 0
  const contentRouting = {
    provide: async () => { provides++; await new Promise(resolve => setTimeout(resolve, 20)) },
    cancelReprovide: async () => {},
    findProviders: async function * () {},
    put: async () => {},
    get: async () => new Uint8Array()
  }
  const routing = new DhtRouting({ contentRouting, peerId: await peer() })
  const digest = digestOf('announced twice')
  await Promise.all([routing.provide(digest), routing.provide(digest)])
  await routing.provide(digest)
  assert.equal(provides, 1)
  await routing.withdraw(digest)
  await routing.provide(digest)
  assert.equal(provides, 2, 'announced again after a withdraw')
})

test('merge interleaves sources as their items arrive', async () => {
  const slow = async function * (): AsyncIterable<number> { await new Promise(resolve => setTimeout(resolve, 20)); yield 1 }
  const fast = async function * (): AsyncIterable<number> { yield 2; yield 3 }
  assert.deepEqual(await collect(merge([slow(), fast()])), [2, 3, 1])
})

test('the DHT routing re-announces what it provides until it is withdrawn', async t => {
  const calls: string[] = []
  const contentRouting = {
    provide: async (cid: { toString: () => string }) => { calls.push(`provide ${cid.toString()}`) },
    cancelReprovide: async (cid: { toString: () => string }) => { calls.push(`cancel ${cid.toString()}`) },
    findProviders: async function * () {},
    put: async () => {},
    get: async () => new Uint8Array()
  }
  const self = await peer()
  const routing = new DhtRouting({ contentRouting, peerId: self }, { reannounceMs: 10 })
  routing.start()
  t.after(() => { routing.stop() })
  const digest = digestOf('announced')
  const cid = digestToCid(digest).toString()
  await routing.provide(digest)
  while (calls.filter(c => c === `provide ${cid}`).length < 3) await new Promise(resolve => setTimeout(resolve, 5))
  await routing.withdraw(digest)
  assert.deepEqual(routing.digests, [])
  assert.equal(calls.at(-1), `cancel ${cid}`)
  const count = calls.length
  await new Promise(resolve => setTimeout(resolve, 40))
  assert.equal(calls.length, count, 'nothing is re-announced after the withdraw')
})

test('tcp addresses for dialing and peer exchange are parsed strictly', () => {
  const id = '12D3KooWNFWaMyLxcPSyz517pyoXCdoX67oJvGAugcAEP3sf6EYh'
  assert.equal(parseTcpAddress(`/ip4/10.0.0.2/tcp/4150/p2p/${id}`).toString(), `/ip4/10.0.0.2/tcp/4150/p2p/${id}`)
  assert.equal(parseTcpAddress('/ip6/::1/tcp/4150').toString(), '/ip6/::1/tcp/4150')
  for (const bad of ['/ip4/1.2.3.4/udp/1', '/dns4/example.com/tcp/1', '/ip4/1.2.3.4/tcp/1/p2p-circuit', 'junk', '/ip4/1.2.3.4/tcp/1/p2p/0OIl']) {
    assert.equal(isTcpAddress(bad), false, bad)
    assert.throws(() => parseTcpAddress(bad), { name: 'InvalidP2PConfigError' }, bad)
  }
})
