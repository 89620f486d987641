/**
 * The serving side's upload limits (docs/protocol.md §4.3, §6) over in-memory stream pairs: a GET holds an upload
 * slot per peer and one in total while its piece is read; with the wait queues at zero, a request over either
 * limit gets BUSY at once, and a released slot serves the next request.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import type { Connection } from '@libp2p/interface'
import type { Holdings, PieceRead } from '../../../src/p2p/serving/holdings.ts'
import { KeyedSemaphore, Semaphore } from '../../../src/p2p/protocol/limits.ts'
import { serveStream, type ServerContext } from '../../../src/p2p/serving/server.ts'
import { TransferStats } from '../../../src/p2p/stats.ts'
import { FramedStream } from '../../../src/p2p/protocol/wire.ts'
import type { Response } from '../../../src/p2p/protocol/codec.ts'
import { silentLogger } from '../../../src/util/logger.ts'

const digest = `sha256:${'c'.repeat(64)}` as const
const PIECE = 16 * 1024

/** Holdings whose piece reads wait until the test lets them go, and say when they start. */
function gatedHoldings (): { holdings: Holdings, started: string[], reads: (n: number) => Promise<void>, releaseAll: () => void } {
  const started: string[] = []
  const gate = Promise.withResolvers<void>()
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const holdings = {
    notePeer () {},
    readPiece: async (_digest: string, index: number, _pieceSize: number, requester: string): Promise<PieceRead> => {
      started.push(requester)
      for (const w of waiters) if (started.length >= w.n) w.resolve()
      await gate.promise
      return { index, bytes: new Uint8Array(PIECE) }
    }
  } as unknown as Holdings
  return {
    holdings,
    started,
    /** Resolves once `n` piece reads have started (each holds its upload slots). */
    reads: async (n: number) => {
      if (started.length >= n) return
      await new Promise<void>(resolve => { waiters.push({ n, resolve }) })
    },
    releaseAll: () => { gate.resolve() }
  }
}

function context (holdings: Holdings, uploads: number, perPeer: number): ServerContext {
  return {
    holdings,
    stats: new TransferStats(),
    // Wait queues of zero: a request that finds no slot is answered BUSY at once.
    uploads: new Semaphore(uploads, 0),
    uploadsPerPeer: new KeyedSemaphore(perPeer, 0),
    uploadBucket: undefined,
    describePeers: async () => [],
    resolveRef: async () => undefined,
    idleTimeoutMs: 60_000,
    requestTimeoutMs: 60_000,
    logger: silentLogger,
    signal: new AbortController().signal
  }
}

/** A requester `peer` on its own stream to the server; sends one GET and returns the answer's header. */
async function requester (ctx: ServerContext, peer: string): Promise<{ get: () => Promise<Response>, client: FramedStream }> {
  const [left, right] = await streamPair()
  void serveStream(right, { remotePeer: { toString: () => peer } } as unknown as Connection, ctx)
  const client = new FramedStream(left, 'server')
  return {
    client,
    get: async () => {
      await client.write({ type: 'GET', digest, index: 0, pieceSize: PIECE }, 5_000)
      return await client.readResponse('GET', 5_000)
    }
  }
}

test('a peer gets one upload slot at a time and BUSY beyond it, while another peer is served', async () => {
  const gated = gatedHoldings()
  const ctx = context(gated.holdings, 2, 1)
  const [a1, a2, b] = [await requester(ctx, 'peer-a'), await requester(ctx, 'peer-a'), await requester(ctx, 'peer-b')]
  const first = a1.get()
  await gated.reads(1)
  const busy = await a2.get()
  assert.equal(busy.type === 'ERROR' && busy.code, 'BUSY', 'the second request of peer-a finds its per-peer slot taken')
  const other = b.get()
  await gated.reads(2)
  assert.deepEqual(gated.started, ['peer-a', 'peer-b'], 'peer-b is not held up by peer-a\'s slot')
  gated.releaseAll()
  assert.equal((await first).type, 'PIECE')
  assert.equal((await other).type, 'PIECE')
})

test('the node-wide upload slots are shared: a third peer is BUSY while two uploads run, served after', async () => {
  const gated = gatedHoldings()
  const ctx = context(gated.holdings, 2, 4)
  const [a, b, c] = [await requester(ctx, 'peer-a'), await requester(ctx, 'peer-b'), await requester(ctx, 'peer-c')]
  const running = [a.get(), b.get()]
  await gated.reads(2)
  const busy = await c.get()
  assert.equal(busy.type === 'ERROR' && busy.code, 'BUSY')
  gated.releaseAll()
  for (const answer of await Promise.all(running)) {
    assert.equal(answer.type, 'PIECE')
  }
  for (const peer of [a, b]) await peer.client.readData(PIECE, 'piece', 5_000)
  // The slots are back: the refused peer is served now.
  assert.equal((await c.get()).type, 'PIECE')
})
