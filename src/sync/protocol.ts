/**
 * `/emergence/sync/1.0.0` (docs/protocol.md §10): a node asks a connected peer for the documents it holds, so
 * that a node that joins (or comes back) learns the desired set, which gossip alone would not tell it (gossipsub
 * delivers only messages published while a node listens). Length-prefixed frames (docs/protocol.md §2, the
 * prefix checked as it arrives by `LengthPrefix`): the request `{"type":"DOCUMENTS"}`, then the answer
 * `{"count": n}` and n signed documents. Every frame is bounded before it is read, n is at most MAX_DOCUMENTS,
 * and every wait has a timeout and the caller's signal. The requester verifies each document itself.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { LengthPrefix } from '../p2p/protocol/prefix.ts'
import { translate } from '../p2p/protocol/wire.ts'
import { describeError } from '../util/errors.ts'
import { FETCH_TIMEOUT_MS, MAX_DOCUMENT_BYTES, MAX_DOCUMENTS, MAX_REQUEST_BYTES, SYNC_PROTOCOL } from './constants.ts'
import { encodeSigned, type SignedDocument } from './document.ts'
import { SyncProtocolError } from './errors.ts'

/** An envelope is its payload (bounded) plus a signature and a few bytes of JSON. */
const MAX_FRAME = MAX_DOCUMENT_BYTES * 2 + 1024

const requestSchema = z.object({ type: z.literal('DOCUMENTS') }).strict()
const headerSchema = z.object({ count: z.number().int().min(0).max(MAX_DOCUMENTS) }).strict()

function framed (stream: Stream, limit: number): { lp: ReturnType<typeof lpStream<Stream>>, prefix: LengthPrefix } {
  const prefix = new LengthPrefix(limit)
  return { lp: lpStream(stream, { maxDataLength: MAX_FRAME, lengthDecoder: prefix.decoder }), prefix }
}

/** Answers one request with the documents `documents()` gives (at most MAX_DOCUMENTS). */
export async function serveDocuments (stream: Stream, documents: () => SignedDocument[], timeoutMs = FETCH_TIMEOUT_MS): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  const { lp } = framed(stream, MAX_REQUEST_BYTES)
  try {
    requestSchema.parse(JSON.parse(Buffer.from((await lp.read({ signal })).subarray()).toString('utf8')))
    const held = documents().slice(0, MAX_DOCUMENTS)
    await lp.writeV([Buffer.from(JSON.stringify({ count: held.length })), ...held.map(encodeSigned)], { signal })
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** The raw document frames a peer holds (unverified: the caller decodes and checks each one). */
export async function fetchDocuments (node: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<Uint8Array[]> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? FETCH_TIMEOUT_MS)
  const signal = options.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout
  const id = peer.toString()
  let stream: Stream | undefined
  try {
    stream = await node.dialProtocol(peer, SYNC_PROTOCOL, { signal })
    const { lp, prefix } = framed(stream, 1024)
    await lp.write(Buffer.from(JSON.stringify({ type: 'DOCUMENTS' })), { signal })
    const header = headerSchema.parse(JSON.parse(Buffer.from((await lp.read({ signal })).subarray()).toString('utf8')))
    prefix.limit = MAX_FRAME
    const frames: Uint8Array[] = []
    for (let i = 0; i < header.count; i++) frames.push((await lp.read({ signal })).subarray())
    await stream.close({ signal }).catch(() => {})
    return frames
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)))
    if (options.signal?.aborted === true) throw options.signal.reason
    if (timeout.aborted) throw new SyncProtocolError(id, `no answer within ${options.timeoutMs ?? FETCH_TIMEOUT_MS} ms`, err)
    throw new SyncProtocolError(id, describeError(translate(err, 'reading the documents')), err)
  }
}
