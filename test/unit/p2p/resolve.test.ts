import { test } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Descriptor } from '../../../src/oci/types.ts'
import { resolveAgreed, resolveFromPeers, type ResolveContext } from '../../../src/p2p/pulling/resolve.ts'
import { silentLogger } from '../../../src/util/logger.ts'

const ids = [
  '12D3KooWNFWaMyLxcPSyz517pyoXCdoX67oJvGAugcAEP3sf6EYh',
  '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
  '12D3KooWLRPJAA5o6Z6W1UmR5UwV1Y3C5JnqVEZ5gcm6FFgfjJfN'
].map(id => peerIdFromString(id))
const [a, b, c] = ids as [PeerId, PeerId, PeerId]

function descriptor (hex: string): Descriptor {
  return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex.repeat(64)}`, size: 100 }
}
const X = descriptor('a')
const Y = descriptor('b')

/**
 * A client whose peers answer in a given order: `answers` maps a peer to its descriptor (undefined: NOT_FOUND,
 * an Error: a failure); `order` is the order the answers arrive in.
 */
function context (answers: Map<PeerId, Descriptor | undefined | Error>, order: PeerId[]): ResolveContext {
  const gates = new Map(order.map(p => [p, Promise.withResolvers<void>()]))
  const client = {
    resolve: async (peer: PeerId): Promise<Descriptor | undefined> => {
      await gates.get(peer)?.promise
      const answer = answers.get(peer)
      // The next peer answers only after this one has: the arrival order is the test's, not the scheduler's.
      queueMicrotask(() => { gates.get(order[order.indexOf(peer) + 1] as PeerId)?.resolve() })
      if (answer instanceof Error) throw answer
      return answer
    }
  }
  gates.get(order[0] as PeerId)?.resolve()
  return { client, candidates: [...answers.keys()], timeoutMs: 5_000, logger: silentLogger }
}

test('a tag resolves when every trusted peer that knows it names the same descriptor', async () => {
  const result = await resolveAgreed('app:1', context(new Map<PeerId, Descriptor | undefined | Error>([[a, X], [b, undefined], [c, X]]), [b, c, a]))
  assert.deepEqual(result.descriptor, X)
  assert.deepEqual(result.peers.map(String), [c, a].map(String))
})

test('trusted peers that disagree are an error naming every claim, whoever answered first or most', async () => {
  // The dissenter answers first and the majority after it: neither the first answer nor the vote may win.
  for (const order of [[a, b, c], [b, c, a]]) {
    const answers = new Map<PeerId, Descriptor | undefined | Error>([[a, X], [b, Y], [c, Y]])
    await assert.rejects(resolveAgreed('app:1', context(answers, order)), (err: Error & { claims?: Array<{ digest: string, peers: string[] }> }) => {
      assert.equal(err.name, 'TagConflictError')
      assert.deepEqual(new Set(err.claims?.map(cl => cl.digest)), new Set([X.digest, Y.digest]))
      for (const text of [X.digest, Y.digest, a.toString(), b.toString(), c.toString()]) assert.ok(err.message.includes(text))
      return true
    })
  }
})

test('nobody who knows the tag, or nobody to ask, is RefNotResolvedError', async () => {
  const answers = new Map<PeerId, Descriptor | undefined | Error>([[a, undefined], [b, new Error('stream reset')]])
  await assert.rejects(resolveAgreed('app:1', context(answers, [a, b])), (err: Error) => err.name === 'RefNotResolvedError' && /stream reset/.test(err.message))
  await assert.rejects(resolveAgreed('app:1', context(new Map(), [])), { name: 'RefNotResolvedError' })
})

test('records (Nix) go by the majority, the earliest answer on a tie, with the dissenters named', async () => {
  const answers = new Map<PeerId, Descriptor | undefined | Error>([[a, X], [b, Y], [c, Y]])
  const majority = await resolveFromPeers('nix/x:info', context(answers, [a, b, c]))
  assert.deepEqual(majority.descriptor, Y)
  assert.deepEqual(majority.dissenters.map(String), [a.toString()])
  const tie = await resolveFromPeers('nix/x:info', context(new Map<PeerId, Descriptor | undefined | Error>([[a, X], [b, Y]]), [b, a]))
  assert.deepEqual(tie.descriptor, Y)
})
