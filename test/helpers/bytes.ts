/** Byte sources for store tests: deterministic content, digests, and slow sources. */
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Digest } from '../../src/oci/digest.ts'

export function sha256 (data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

/** Chunk `index` of a deterministic stream: the same on every run and in every process. */
export function patternChunk (index: number, size: number): Buffer {
  const chunk = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4) chunk.writeUInt32LE(((index + 1) * 2654435761 + i * 40503) >>> 0, i)
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
