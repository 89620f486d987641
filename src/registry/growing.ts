/**
 * Streaming a blob to a client while the node pulls it from peers (docs/registry.md "What the node lacks"). The
 * puller writes verified pieces into the blob's partial file and publishes them for serving to peers (p2p holdings,
 * docs/protocol.md §5); the mirror reads the same verified state: the bytes from offset 0 up to the first piece
 * not yet verified go out to the client as they come, and the rest from the store once the pull committed.
 *
 * Pieces are checked against a piece list that only the whole digest can confirm, so the mirror hashes every
 * byte it sends and holds the last one back until the whole hash matches the digest: a client never receives a
 * complete body that fails its digest. A pull that fails after the first bytes went out, or a hash that does not
 * match, cuts the connection (the body is shorter than its `Content-Length`): never a short `200`.
 */
import { createHash, type Hash } from 'node:crypto'
import { once } from 'node:events'
import { open } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { digestAlgorithm, type Digest } from '../oci/digest.ts'
import { sleep } from '../p2p/protocol/limits.ts'
import type { P2P } from '../p2p/service.ts'
import { isErrno } from '../util/errors.ts'

/** The verified prefix of a blob being pulled now. */
export interface GrowingPrefix {
  /** The partial file that holds it. */
  path: string
  size: number
  /** Bytes from offset 0 written and verified. */
  bytes: number
  /** What `changed` compares against (the verified pieces). */
  version: string
}

/** What the puller lets the mirror see of blobs in flight. */
export interface GrowingBlobs {
  prefix: (digest: Digest) => Promise<GrowingPrefix | undefined>
  /** Resolves when the pull verifies a piece past `version`, ends, or after `ms`. */
  changed: (digest: Digest, version: string, ms: number, signal: AbortSignal) => Promise<void>
}

/** The blobs a node's puller has in flight, as its holdings serve them to peers. */
export function partialBlobs (p2p: P2P): GrowingBlobs {
  const { holdings } = p2p.exchange
  const partialPath = (digest: Digest): string => p2p.puller.store.paths.partial(digest)
  return {
    prefix: async digest => {
      const held = await holdings.lookup(digest)
      if (held === undefined || held.complete || held.verified === undefined) return undefined
      let pieces = 0
      while (pieces < held.verified.length && held.verified.has(pieces)) pieces++
      return { path: partialPath(digest), size: held.size, bytes: Math.min(held.size, pieces * held.pieceSize), version: held.verified.toBase64() }
    },
    changed: async (digest, version, ms, signal) => { await holdings.waitForNews(digest, version, ms, signal) }
  }
}

const CHUNK = 1024 * 1024
/** How often the mirror looks for the pull's partial before the pull has one (it is finding holders). */
const POLL_MS = 50
/** Longest wait for news of a pull in flight before looking again. */
const WAIT_MS = 1_000

export interface GrowingResponse {
  digest: Digest
  /** The size a verified manifest gave, if any: a pull of another size is not streamed. */
  expectedSize: number | undefined
  /** The fetch the response waits for: the blob's size once it is in the store. */
  fetch: Promise<number>
  growing: GrowingBlobs
  headers: (size: number) => Record<string, string | number>
  readStored: (start: number, end: number) => Promise<Readable>
  signal: AbortSignal
}

/**
 * Sends the blob's verified prefix as the pull advances. Returns false, having sent nothing, when the fetch
 * ended before any byte could go out (the caller then answers from the store, or with the fetch's error).
 */
export async function sendGrowing (res: ServerResponse, r: GrowingResponse): Promise<boolean> {
  let outcome: { size: number } | { error: unknown } | undefined
  const settled = r.fetch.then(size => { outcome = { size } }, (error: unknown) => { outcome = { error } })
  const hash = createHash(digestAlgorithm(r.digest))
  let size: number | undefined
  let sent = 0
  while (outcome === undefined) {
    r.signal.throwIfAborted()
    const prefix = await r.growing.prefix(r.digest)
    const usable = prefix !== undefined && prefix.bytes > 0 && prefix.size === (size ?? r.expectedSize ?? prefix.size)
    if (usable) {
      if (size === undefined) {
        size = prefix.size
        res.writeHead(200, r.headers(size))
      }
      // The last byte waits for the whole digest.
      sent = await sendFile(res, prefix.path, sent, Math.min(prefix.bytes, size - 1), hash, r.signal)
    }
    const news = prefix !== undefined ? r.growing.changed(r.digest, prefix.version, WAIT_MS, r.signal) : sleep(POLL_MS, r.signal)
    // The loser of the race may reject later (the client's signal aborts when the response closes): caught here,
    // and an abort that matters is seen at the top of the loop.
    await Promise.race([settled, news.catch(() => {})])
  }
  if (size === undefined) return false
  if ('error' in outcome || outcome.size !== size) {
    res.destroy()
    return true
  }
  await sendRest(res, await r.readStored(sent, size), hash, r.digest, r.signal)
  return true
}

/** Sends bytes [from, to) of the partial file; returns where it stopped (early when the file went away). */
async function sendFile (res: ServerResponse, path: string, from: number, to: number, hash: Hash, signal: AbortSignal): Promise<number> {
  if (to <= from) return from
  let file
  try {
    file = await open(path, 'r')
  } catch (err) {
    // Committed (renamed into the store) or discarded since: the loop looks again.
    if (isErrno(err, 'ENOENT')) return from
    throw err
  }
  let at = from
  try {
    while (at < to) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, to - at))
      const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, at)
      if (bytesRead === 0) break
      const chunk = buffer.subarray(0, bytesRead)
      hash.update(chunk)
      at += bytesRead
      await write(res, chunk, signal)
    }
  } finally {
    await file.close()
  }
  return at
}

/** Sends the committed rest, holding its last chunk back until the bytes sent in all hash to the digest. */
async function sendRest (res: ServerResponse, body: Readable, hash: Hash, digest: Digest, signal: AbortSignal): Promise<void> {
  let held: Buffer | undefined
  for await (const chunk of body as AsyncIterable<Buffer>) {
    hash.update(chunk)
    if (held !== undefined) await write(res, held, signal)
    held = chunk
  }
  if (`${digestAlgorithm(digest)}:${hash.digest('hex')}` !== digest) {
    res.destroy()
    return
  }
  res.end(held)
}

async function write (res: ServerResponse, chunk: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!res.write(chunk)) await once(res, 'drain', { signal })
}
