/**
 * The lane offer (docs/protocol.md §9.1), on the libp2p protocol /emergence/lane-offer/1.0.0: the requester
 * asks over its libp2p connection, the server answers with its lane port and a ticket issued to the requester's
 * peer id (tickets.ts). The requester then dials that port at the IP of the same libp2p connection, so the lane
 * reaches the host it already talks to. A peer that does not handle the protocol offers no lane. A plaintext lane
 * (§9.5) is offered only to a requester that asks for one, by a server that opted in too.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { describeError } from '../../util/errors.ts'
import { MalformedMessageError } from '../errors.ts'
import { LANE_OFFER_PROTOCOL } from './constants.ts'
import { LaneRefusedError, LaneUnavailableError } from './errors.ts'
import type { TicketBook } from './tickets.ts'

const MAX_OFFER_FRAME = 1024
const offerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('LANE_OFFER'), port: z.number().int().min(1).max(65535), ticket: z.string().max(64).regex(/^[A-Za-z0-9+/]*={0,2}$/), plaintext: z.literal(true).optional() }),
  z.object({ type: z.literal('LANE_REFUSED'), reason: z.string().max(256) })
])

export interface LaneOffer {
  host: string
  port: number
  ticket: Buffer
  /** Both ends asked for a plaintext lane (docs/protocol.md §9.5): no TLS, the ticket names the peer. */
  plaintext?: boolean
}

export interface OfferContext {
  tickets: TicketBook
  /** The port the lane listens on; undefined while it does not. */
  port: () => number | undefined
  allowed: (peer: string) => boolean
  timeoutMs: number
  /** This node opted in to plaintext lanes: it offers one to a peer that asks for one. */
  plaintext?: boolean
}

/** Serves one offer request: a ticket for the peer of this libp2p connection, or a refusal. */
export async function serveOffer (stream: Stream, connection: Connection, ctx: OfferContext): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME })
  const signal = AbortSignal.timeout(ctx.timeoutMs)
  try {
    const plaintext = ctx.plaintext === true && asksPlaintext((await lp.read({ signal })).subarray())
    const peer = connection.remotePeer.toString()
    const port = ctx.port()
    const answer = port === undefined
      ? { type: 'LANE_REFUSED', reason: 'no lane listening' }
      : !ctx.allowed(peer)
          ? { type: 'LANE_REFUSED', reason: 'not allowed' }
          : { type: 'LANE_OFFER', port, ticket: ctx.tickets.issue(peer, { plaintext }).toString('base64'), ...(plaintext ? { plaintext } : {}) }
    await lp.write(Buffer.from(JSON.stringify(answer)), { signal })
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** True when the request (`{"type":"LANE","plaintext":true}`) asks for a plaintext lane; anything else asks for TLS. */
function asksPlaintext (request: Uint8Array): boolean {
  try {
    return (JSON.parse(Buffer.from(request).toString('utf8')) as { plaintext?: unknown } | null)?.plaintext === true
  } catch {
    return false
  }
}

/**
 * Asks `peer` for a lane over an open libp2p connection (a plaintext one with `plaintext`, which the peer grants
 * only if it opted in too); throws LaneUnavailableError or LaneRefusedError.
 */
export async function requestOffer (connections: Connection[], peer: PeerId, timeoutMs: number, signal?: AbortSignal, options: { plaintext?: boolean } = {}): Promise<LaneOffer> {
  const id = peer.toString()
  const connection = connections.find(c => c.status === 'open')
  const host = connection !== undefined ? hostOf(String(connection.remoteAddr)) : undefined
  if (connection === undefined || host === undefined) throw new LaneUnavailableError(id, 'no open TCP connection to the peer')
  const timeout = AbortSignal.timeout(timeoutMs)
  const both = signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout
  let text: string
  try {
    const stream = await connection.newStream(LANE_OFFER_PROTOCOL, { signal: both })
    const lp = lpStream(stream, { maxDataLength: MAX_OFFER_FRAME })
    await lp.write(Buffer.from(options.plaintext === true ? '{"type":"LANE","plaintext":true}' : '{"type":"LANE"}'), { signal: both })
    text = Buffer.from((await lp.read({ signal: both })).subarray()).toString('utf8')
    await stream.close({ signal: both }).catch(() => {})
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    throw new LaneUnavailableError(id, describeError(err), err)
  }
  let parsed
  try {
    parsed = offerSchema.parse(JSON.parse(text))
  } catch (err) {
    throw new MalformedMessageError(`lane offer: ${describeError(err)}`, err)
  }
  if (parsed.type === 'LANE_REFUSED') throw new LaneRefusedError(id, parsed.reason)
  // A plaintext offer nobody asked for is refused: a lane is plaintext only when both ends chose it.
  if (parsed.plaintext === true && options.plaintext !== true) throw new LaneUnavailableError(id, 'it offered a plaintext lane we did not ask for')
  return { host, port: parsed.port, ticket: Buffer.from(parsed.ticket, 'base64'), ...(parsed.plaintext === true ? { plaintext: true } : {}) }
}

/** The IP of `/ip4/<ip>/tcp/<port>...` or `/ip6/<ip>/tcp/<port>...`; undefined for other transports. */
export function hostOf (addr: string): string | undefined {
  return /^\/ip[46]\/([^/]+)\/tcp\/\d+/.exec(addr)?.[1]
}
