/** Byte sources for store tests: deterministic content, digests, and slow sources. */
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Digest } from '../../src/oci/digest.ts'

export function sha256 (data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

const bases = new Map<number, Buffer>()

/**
 * Chunk `index` of a deterministic stream: the same on every run and in every process. Chunks of one size share
 * a pseudo-random base and differ in their first 4 bytes (the index), so no two chunks are alike.
 */
export function patternChunk (index: number, size: number): Buffer {
  let base = bases.get(size)
  if (base === undefined) {
    base = Buffer.alloc(size)
    for (let i = 0; i + 4 <= size; i += 4) base.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ (i >>> 7)) >>> 0, i)
    bases.set(size, base)
  }
  const chunk = Buffer.from(base)
  chunk.writeUInt32LE(index >>> 0, 0)
  return chunk
}

/** `count` pattern chunks of `size` bytes (size a multiple of 4). */
export function * patternChunks (count: number, size: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield patternChunk(i, size)
}

/** The digest and length of `count` pattern chunks, computed without holding them all in memory. */
export function patternDigest (count: number, size: number): { digest: Digest, size: number } {
  const hash = createHash('sha256')
  for (const chunk of patternChunks(count, size)) hash.update(chunk)
  return { digest: `sha256:${hash.digest('hex')}`, size: count * size }
}

/** Yields `chunks` with a pause before each one, so that a writer is still busy when a test acts on it. */
export async function * throttled (chunks: Iterable<Uint8Array>, pauseMs: number): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    await sleep(pauseMs)
    yield chunk
  }
}

/** Collects a stream into one buffer. */
export async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of source) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}
