/**
 * Serving: answering other peers' requests from what this node holds.
 *
 * The contract:
 * - **Only verified bytes are served.** `Holdings` answers HAVE/PIECES/GET from committed blobs and from the
 *   verified pieces of blobs still being pulled (so a pull is re-served from its first piece on); a piece that is
 *   not verified is never sent.
 * - **Uploads are limited, never queued without bound**: slots per peer and per node, a token bucket for the
 *   rate, then `BUSY`. Super-seeding (`UploadCounts`): a holder sends the piece it has sent least and may `DEFER`
 *   one sent recently, so the first holder sends each piece out about once and the downloaders trade the rest.
 * - **Reads are cheap**: open files are cached (`FileCache`), piece buffers come from a pool (`BufferPool`) and are
 *   returned once the socket has taken them. `serveStream` is the libp2p stream server; the data lane's server
 *   calls `answerGet` with the same context, so the same rules apply on both paths.
 */
export { Holdings, type ActiveDownload, type Holding, type PieceRead } from './holdings.ts'
export { serveStream, answerGet, type ServerContext, type AnswerSink } from './server.ts'
export { FileCache } from './file-cache.ts'
export { BufferPool, pieceBuffers } from './buffer-pool.ts'
export { UploadCounts, RECENT_MS } from './upload-counts.ts'
