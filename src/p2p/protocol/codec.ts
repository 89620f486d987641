/**
 * The messages of /emergence/blob/1.0.0 (docs/protocol.md §4) and their JSON encoding. Every control frame is
 * one UTF-8 JSON object with a `type`; decoding validates it here, at the edge, and turns garbage into a typed
 * ProtocolViolationError. Unknown fields are ignored so that 1.x peers may add fields; unknown types are not.
 */
import { z } from 'zod'
import { isDigest, type Digest } from '../../oci/digest.ts'
import { descriptorSchema, type Descriptor } from '../../oci/types.ts'
import { MAX_CONTROL_FRAME, MAX_DATA_FRAME, MAX_HAVE_WAIT_MS, MAX_PEX_ADDRS, MAX_PEX_PEERS } from '../constants.ts'
import { FrameTooLargeError, MalformedMessageError, UnknownMessageError } from '../errors.ts'

const digest = z.string().refine(isDigest, { message: 'invalid digest' }).transform(d => d as Digest)
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const pieceSize = z.number().int().positive().max(MAX_DATA_FRAME)
const peerId = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{16,128}$/)
/** Peer exchange: a peer that holds or fetches the blob, and where to dial it (BitTorrent's PEX gives ip:port). */
const pexPeer = z.object({ id: peerId, addrs: z.array(z.string().max(256)).max(MAX_PEX_ADDRS) })
const peers = z.array(pexPeer).max(MAX_PEX_PEERS)
const base64 = z.string().max(MAX_CONTROL_FRAME).regex(/^[A-Za-z0-9+/]*={0,2}$/)
const ref = z.string().min(1).max(512)

const requestSchemas = {
  /** `known` and `waitMs` (1.1): answer once a piece beyond `known` is verified, or after `waitMs` (a long poll). */
  HAVE: z.object({ type: z.literal('HAVE'), digest, known: base64.optional(), waitMs: count.max(MAX_HAVE_WAIT_MS).optional() }),
  PIECES: z.object({ type: z.literal('PIECES'), digest }),
  /** `want` (1.1): the pieces the requester would take instead of `index`; the server may send one of them. */
  GET: z.object({ type: z.literal('GET'), digest, index: count, pieceSize, want: base64.optional() }),
  RESOLVE: z.object({ type: z.literal('RESOLVE'), ref })
}

const responseSchemas = {
  HAVE: z.object({ type: z.literal('HAVE'), digest, size: count, pieceSize, complete: z.boolean(), bitfield: base64.optional(), suggest: base64.optional(), peers }),
  NOT_HAVE: z.object({ type: z.literal('NOT_HAVE'), digest, index: count.optional(), peers }),
  PIECES: z.object({ type: z.literal('PIECES'), digest, size: count, pieceSize, length: count.max(MAX_DATA_FRAME) }),
  PIECE: z.object({ type: z.literal('PIECE'), digest, index: count, length: count.max(MAX_DATA_FRAME), bitfield: base64.optional(), suggest: base64.optional() }),
  DEFER: z.object({ type: z.literal('DEFER'), digest, index: count, suggest: base64 }),
  RESOLVED: z.object({ type: z.literal('RESOLVED'), ref, descriptor: descriptorSchema }),
  NOT_FOUND: z.object({ type: z.literal('NOT_FOUND'), ref }),
  ERROR: z.object({ type: z.literal('ERROR'), code: z.string().max(64), message: z.string().max(1024) })
}

export type PexPeer = z.infer<typeof pexPeer>
export type HaveRequest = z.infer<typeof requestSchemas.HAVE>
export type PiecesRequest = z.infer<typeof requestSchemas.PIECES>
export type GetRequest = z.infer<typeof requestSchemas.GET>
export type ResolveRequest = z.infer<typeof requestSchemas.RESOLVE>
export type Request = HaveRequest | PiecesRequest | GetRequest | ResolveRequest

export type HaveResponse = z.infer<typeof responseSchemas.HAVE>
export type NotHaveResponse = z.infer<typeof responseSchemas.NOT_HAVE>
export type PiecesResponse = z.infer<typeof responseSchemas.PIECES>
export type PieceResponse = z.infer<typeof responseSchemas.PIECE>
export type DeferResponse = z.infer<typeof responseSchemas.DEFER>
export type ResolvedResponse = z.infer<typeof responseSchemas.RESOLVED> & { descriptor: Descriptor }
export type NotFoundResponse = z.infer<typeof responseSchemas.NOT_FOUND>
export type ErrorResponse = z.infer<typeof responseSchemas.ERROR>
export type Response = HaveResponse | NotHaveResponse | PiecesResponse | PieceResponse | DeferResponse | ResolvedResponse | NotFoundResponse | ErrorResponse

/** Error codes a server sends in ERROR (docs/protocol.md §4.5). */
export const ERROR_CODES = {
  badRequest: 'BAD_REQUEST',
  unknownMessage: 'UNKNOWN_MESSAGE',
  pieceSize: 'PIECE_SIZE_MISMATCH',
  busy: 'BUSY',
  internal: 'INTERNAL'
} as const

export function encodeMessage (message: Request | Response): Uint8Array {
  return encodeFrame(message)
}

/** One JSON control frame of any protocol on this framing (the migration protocol's too, docs/protocol.md §11). */
export function encodeFrame (message: object): Uint8Array {
  const bytes = Buffer.from(JSON.stringify(message), 'utf8')
  if (bytes.byteLength > MAX_CONTROL_FRAME) throw new FrameTooLargeError(bytes.byteLength, MAX_CONTROL_FRAME)
  return bytes
}

/**
 * Decodes one control frame against `schemas` (by `type`): every protocol on this framing validates its
 * messages with this one function, so garbage is the same typed error everywhere.
 */
export function decodeMessage<T> (bytes: Uint8Array, schemas: Record<string, z.ZodType<T>>): T {
  if (bytes.byteLength > MAX_CONTROL_FRAME) throw new FrameTooLargeError(bytes.byteLength, MAX_CONTROL_FRAME)
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new MalformedMessageError('not UTF-8 JSON', err)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MalformedMessageError('not a JSON object')
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string') throw new MalformedMessageError('no type')
  const schema = Object.hasOwn(schemas, type) ? schemas[type] : undefined
  if (schema === undefined) throw new UnknownMessageError(type)
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new MalformedMessageError(`${type}${issue !== undefined && issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

export function decodeRequest (bytes: Uint8Array): Request {
  return decodeMessage<Request>(bytes, requestSchemas)
}

export function decodeResponse (bytes: Uint8Array): Response {
  return decodeMessage<Response>(bytes, responseSchemas)
}
