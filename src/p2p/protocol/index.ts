/**
 * The control protocol, `/emergence/blob/1.0.0` (docs/protocol.md): HAVE, PIECES, GET and RESOLVE, each a
 * length-prefixed JSON frame, a GET answered by a frame plus the piece bytes.
 *
 * The contract:
 * - **Every frame is bounded before it is read.** `LengthPrefix` refuses a varint as soon as it passes the frame
 *   limit (64 KiB for headers, 4 MiB for piece bytes); `decodeRequest`/`decodeResponse` validate every field with
 *   zod and throw `ProtocolError` on anything else.
 * - **Every wait has a timeout and an AbortSignal** (`FramedStream`, `ExchangeClient`); a stream that ends early is
 *   an error, never a short piece (a lost connection looks like a clean end of stream).
 * - **Inbound load is capped** (`InboundStreams`): streams per peer and per node, one request held per stream.
 * - **Rates and slots** (`Semaphore`, `KeyedSemaphore`, `TokenBucket`) are shared by streams and lanes, so both
 *   paths obey the same upload and download limits.
 * - `ExchangeClient` is the requesting side for one peer: it picks the lane when one is open, else a stream.
 */
export { encodeMessage, encodeFrame, decodeMessage, decodeRequest, decodeResponse, ERROR_CODES, type Request, type Response, type GetRequest, type PexPeer } from './codec.ts'
export { FramedStream, translate, type FramedStreamInit } from './wire.ts'
export { LengthPrefix, prefixBytes } from './prefix.ts'
export { InboundStreams, type InboundLoad } from './inbound.ts'
export { Semaphore, KeyedSemaphore, TokenBucket, sleep, type Clock } from './limits.ts'
export { ExchangeClient, type HaveAnswer, type PieceData, type PieceRef, type PieceBytes } from './client.ts'
