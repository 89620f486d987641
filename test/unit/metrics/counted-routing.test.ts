/** Provider lookups as the metrics count them: found or none, timed to the first provider; aborted ones left out. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { CountedRouting } from '../../../src/p2p/routing/counted-routing.ts'
import { MemoryRoutingTable, type Routing } from '../../../src/p2p/routing/routing.ts'
import { TransferStats } from '../../../src/p2p/stats.ts'
import type { Digest } from '../../../src/oci/digest.ts'

const HELD = `sha256:${'a'.repeat(64)}` as Digest
const ABSENT = `sha256:${'b'.repeat(64)}` as Digest

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

async function drain (routing: Routing, digest: Digest, signal?: AbortSignal): Promise<number> {
  let found = 0
  for await (const _ of routing.findProviders(digest, signal !== undefined ? { signal } : {})) found++
  return found
}

test('each lookup is reported once: found when a provider came, none when the search ended empty', async () => {
  const table = new MemoryRoutingTable()
  await table.routingFor(await peer()).provide(HELD)
  const stats = new TransferStats()
  const seen: Array<[number, boolean]> = []
  const stop = stats.onLookup((seconds, found) => { seen.push([seconds, found]) })
  const routing = new CountedRouting(table.routingFor(await peer()), stats)
  assert.equal(await drain(routing, HELD), 1)
  assert.equal(await drain(routing, ABSENT), 0)
  assert.deepEqual(seen.map(([, found]) => found), [true, false])
  assert.ok(seen.every(([seconds]) => seconds >= 0))
  stop()
  await drain(routing, HELD)
  assert.equal(seen.length, 2, 'an observer that stopped hears nothing')
})

test('a lookup the caller aborted before any answer is not reported', async () => {
  const stats = new TransferStats()
  const seen: boolean[] = []
  stats.onLookup((_seconds, found) => { seen.push(found) })
  const controller = new AbortController()
  const stalled: Routing = {
    provide: async () => {},
    withdraw: async () => {},
    findProviders: async function * (_digest, options = {}) {
      yield await new Promise<PeerId>((_resolve, reject) => { options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }) })
    }
  }
  const lookup = drain(new CountedRouting(stalled, stats), HELD, controller.signal)
  controller.abort(new Error('the pull was cancelled'))
  await assert.rejects(lookup, /cancelled/)
  assert.deepEqual(seen, [])
})
