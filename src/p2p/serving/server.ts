/**
 * The serving side of /emergence/blob/1.0.0 (docs/protocol.md §4): one handler per inbound stream reads
 * requests one at a time and answers each before reading the next, until the requester closes its side or goes
 * idle. A stream holds at most one request read ahead, and inbound streams are counted per peer and per node
 * (inbound.ts). Uploads are bounded per peer and in total, and rate-limited; a peer that sends garbage gets one
 * ERROR and the stream is reset.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { Descriptor } from '../../oci/types.ts'
import type { Logger } from '../../util/logger.ts'
import { describeError } from '../../util/errors.ts'
import { ERROR_CODES, type GetRequest, type PexPeer, type Request } from '../protocol/codec.ts'
import { MAX_HAVE_WAIT_MS, MAX_REQUEST_BUFFER } from '../constants.ts'
import { MalformedMessageError, PeerTimeoutError, ProtocolViolationError, QueueFullError, TruncatedResponseError, UnknownMessageError } from '../errors.ts'
import type { Holdings } from './holdings.ts'
import type { InboundStreams } from '../protocol/inbound.ts'
import type { KeyedSemaphore, Semaphore, TokenBucket } from '../protocol/limits.ts'
import type { TransferPath, TransferStats } from '../stats.ts'
import { FramedStream } from '../protocol/wire.ts'

export interface ServerContext {
  holdings: Holdings
  stats: TransferStats
  uploads: Semaphore
  uploadsPerPeer: KeyedSemaphore
  uploadBucket: TokenBucket | undefined
  /** Peer ids with the addresses this node knows for them (peer exchange). */
  describePeers: (ids: string[]) => Promise<PexPeer[]>
  /** Answers RESOLVE from the local index.json. */
  resolveRef: (ref: string) => Promise<Descriptor | undefined>
  /** A stream with no request for this long is closed. */
  idleTimeoutMs: number
  /** Time allowed to queue for an upload slot and to write one answer. */
  requestTimeoutMs: number
  logger: Logger
  /** Aborted when the exchange stops. */
  signal: AbortSignal
  /** Inbound streams per peer and per node; a stream over the limits is reset unserved. */
  inbound?: InboundStreams
}

export async function serveStream (stream: Stream, connection: Connection, ctx: ServerContext): Promise<void> {
  const peer = connection.remotePeer.toString()
  const framed = new FramedStream(stream, peer, { maxBuffered: MAX_REQUEST_BUFFER })
  if (ctx.inbound?.admit(framed) === false) return
  try {
    while (true) {
      let request: Request
      try {
        request = await framed.readRequest(ctx.idleTimeoutMs, ctx.signal)
      } catch (err) {
        if (err instanceof TruncatedResponseError || err instanceof PeerTimeoutError) break
        if (err instanceof ProtocolViolationError) await refuse(framed, err, ctx)
        throw err
      }
      try {
        await answer(request, framed, peer, ctx)
      } catch (err) {
        if (err instanceof ProtocolViolationError) await refuse(framed, err, ctx)
        throw err
      }
    }
    await framed.close(ctx.requestTimeoutMs)
  } catch (err) {
    ctx.logger.debug(`stream from ${peer} ended: ${describeError(err)}`)
    framed.abort(err instanceof Error ? err : new Error(String(err)))
  } finally {
    ctx.inbound?.leave(framed)
  }
}

/** One ERROR for a peer that broke the protocol, best effort, before the stream is reset. */
async function refuse (framed: FramedStream, err: ProtocolViolationError, ctx: ServerContext): Promise<void> {
  const code = err instanceof UnknownMessageError ? ERROR_CODES.unknownMessage : err instanceof MalformedMessageError ? ERROR_CODES.badRequest : ERROR_CODES.badRequest
  ctx.logger.info(`peer ${framed.peer} sent garbage: ${err.message}`)
  await framed.write({ type: 'ERROR', code, message: err.message.slice(0, 1000) }, ctx.requestTimeoutMs, ctx.signal).catch(() => {})
}

async function answer (request: Request, framed: FramedStream, peer: string, ctx: ServerContext): Promise<void> {
  const timeout = ctx.requestTimeoutMs
  switch (request.type) {
    case 'HAVE': {
      ctx.holdings.notePeer(request.digest, peer)
      if (request.known !== undefined && request.waitMs !== undefined) {
        await ctx.holdings.waitForNews(request.digest, request.known, Math.min(request.waitMs, MAX_HAVE_WAIT_MS), ctx.signal)
      }
      const holding = await ctx.holdings.lookup(request.digest)
      // A watching HAVE comes back with every new piece: it gets the swarm's peers now and then, not each time.
      const peers = request.known === undefined || ctx.holdings.pexDue(request.digest, peer) ? await pex(ctx, request.digest, peer) : []
      if (holding === undefined) {
        await framed.write({ type: 'NOT_HAVE', digest: request.digest, peers }, timeout, ctx.signal)
        return
      }
      await framed.write({
        type: 'HAVE',
        digest: request.digest,
        size: holding.size,
        pieceSize: holding.pieceSize,
        complete: holding.complete,
        ...(holding.verified !== undefined ? { bitfield: holding.verified.toBase64() } : {}),
        ...(holding.suggest !== undefined ? { suggest: holding.suggest.toBase64() } : {}),
        peers
      }, timeout, ctx.signal)
      return
    }
    case 'PIECES': {
      ctx.holdings.notePeer(request.digest, peer)
      const list = await ctx.holdings.pieceList(request.digest)
      if (list === undefined) {
        await framed.write({ type: 'NOT_HAVE', digest: request.digest, peers: await pex(ctx, request.digest, peer) }, timeout, ctx.signal)
        return
      }
      const header = { type: 'PIECES' as const, digest: request.digest, size: list.size, pieceSize: list.pieceSize, length: list.hashes.byteLength }
      await framed.writeWithData(header, list.hashes, timeout, ctx.signal)
      return
    }
    case 'GET':
      await answerGet(request, framed, peer, ctx)
      return
    case 'RESOLVE': {
      const descriptor = await ctx.resolveRef(request.ref).catch(() => undefined)
      const message = descriptor !== undefined
        ? { type: 'RESOLVED' as const, ref: request.ref, descriptor }
        : { type: 'NOT_FOUND' as const, ref: request.ref }
      await framed.write(message, timeout, ctx.signal)
    }
  }
}

async function pex (ctx: ServerContext, digest: GetRequest['digest'], requester: string): Promise<PexPeer[]> {
  return await ctx.describePeers(ctx.holdings.peersFor(digest, requester))
}

/** Where an answer goes: a libp2p stream, or one request's slot on a data lane (lane/server.ts). */
export type AnswerSink = Pick<FramedStream, 'write' | 'writeWithData'>

/** Answers one GET (docs/protocol.md §4.3) under the upload limits; used by streams and data lanes alike (`path`). */
export async function answerGet (request: GetRequest, framed: AnswerSink, peer: string, ctx: ServerContext, path: TransferPath = 'stream'): Promise<void> {
  const timeout = ctx.requestTimeoutMs
  ctx.holdings.notePeer(request.digest, peer)
  const queueSignal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeout)])
  let releasePeer: (() => void) | undefined
  let releaseTotal: (() => void) | undefined
  try {
    try {
      releasePeer = await ctx.uploadsPerPeer.acquire(peer, queueSignal)
      releaseTotal = await ctx.uploads.acquire(queueSignal)
    } catch (err) {
      if (ctx.signal.aborted || !(err instanceof QueueFullError || queueSignal.aborted)) throw err
      await framed.write({ type: 'ERROR', code: ERROR_CODES.busy, message: 'too many uploads, try later' }, timeout, ctx.signal)
      return
    }
    const read = await ctx.holdings.readPiece(request.digest, request.index, request.pieceSize, peer, request.want)
    if ('deferred' in read) {
      await framed.write({ type: 'DEFER', digest: request.digest, index: request.index, suggest: read.deferred.toBase64() }, timeout, ctx.signal)
      return
    }
    if ('missing' in read) {
      const message = read.missing === 'piece-size'
        ? { type: 'ERROR' as const, code: ERROR_CODES.pieceSize, message: `piece size ${request.pieceSize} does not match this holder's pieces` }
        : { type: 'NOT_HAVE' as const, digest: request.digest, index: request.index, peers: [] }
      await framed.write(message, timeout, ctx.signal)
      return
    }
    await ctx.uploadBucket?.take(read.bytes.byteLength, ctx.signal)
    const header = {
      type: 'PIECE' as const,
      digest: request.digest,
      index: read.index,
      length: read.bytes.byteLength,
      ...(read.verified !== undefined ? { bitfield: read.verified.toBase64() } : {}),
      ...(read.suggest !== undefined ? { suggest: read.suggest.toBase64() } : {})
    }
    await framed.writeWithData(header, read.bytes, timeout, ctx.signal)
    ctx.stats.addServed(peer, read.bytes.byteLength, path)
  } finally {
    releaseTotal?.()
    releasePeer?.()
  }
}
