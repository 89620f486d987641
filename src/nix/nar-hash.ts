/**
 * narHash = `sha256:` + nix32(sha256(NAR)) and narSize = its byte count (docs/formats.md "NAR"), computed while the NAR
 * streams past, never over a buffered copy.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import { formatNixHash } from './hash.ts'
import type { NixHash } from './hash.ts'
import { NarHashMismatchError, NarSizeMismatchError } from './errors.ts'
import { dumpNar } from './nar-writer.ts'
import type { DumpNarOptions } from './nar-writer.ts'

export interface NarDigest {
  narHash: NixHash
  narSize: number
}

/** Accumulates the hash and size of a NAR fed to it chunk by chunk. */
export class NarHasher {
  readonly #hash: Hash = createHash('sha256')
  size = 0

  update (chunk: Uint8Array): void {
    this.#hash.update(chunk)
    this.size += chunk.length
  }

  digest (): NarDigest {
    return { narHash: formatNixHash(this.#hash.digest()), narSize: this.size }
  }
}

/** Passes `source` through unchanged, feeding every chunk to `hasher`. */
export async function * tapNarHash (source: AsyncIterable<Uint8Array>, hasher: NarHasher): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hasher.update(chunk)
    yield chunk
  }
}

export async function narDigestOf (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<NarDigest> {
  const hasher = new NarHasher()
  for await (const chunk of source) hasher.update(chunk)
  return hasher.digest()
}

/** The narHash and narSize of a path on disk, as `nix-store --query --hash --size` would report them. */
export async function narDigestOfPath (path: string, options: DumpNarOptions = {}): Promise<NarDigest> {
  return await narDigestOf(dumpNar(path, options))
}

/**
 * Passes `source` through while checking it against the expected narHash and narSize: NarSizeMismatchError as soon
 * as the stream is longer than expected, and NarHashMismatchError or NarSizeMismatchError when it ends otherwise.
 * The bytes yielded are only trustworthy once the generator has finished without throwing.
 */
export async function * verifyNarStream (source: AsyncIterable<Uint8Array>, expected: { path: string } & NarDigest): AsyncGenerator<Uint8Array> {
  const hasher = new NarHasher()
  for await (const chunk of source) {
    hasher.update(chunk)
    if (hasher.size > expected.narSize) throw new NarSizeMismatchError(expected.path, expected.narSize, hasher.size)
    yield chunk
  }
  const actual = hasher.digest()
  if (actual.narSize !== expected.narSize) throw new NarSizeMismatchError(expected.path, expected.narSize, actual.narSize)
  if (actual.narHash !== expected.narHash) throw new NarHashMismatchError(expected.path, expected.narHash, actual.narHash)
}
