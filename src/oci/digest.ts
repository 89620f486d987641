/**
 * Digests as docs/formats.md "Digests and descriptors" describes them: `algorithm:encoded`. We accept sha256 (64 hex)
 * and sha512 (128 hex), lower case only, and nothing that could escape a path (`/`, `..`).
 */
import { createHash } from 'node:crypto'
import { InvalidDigestError } from './errors.ts'

export type Algorithm = 'sha256' | 'sha512'
/** A validated digest string. */
export type Digest = `${Algorithm}:${string}`

const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/

export function isDigest (value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_PATTERN.test(value)
}

/** Validates `value` and returns it typed, or throws InvalidDigestError. */
export function parseDigest (value: string): Digest {
  if (!isDigest(value)) throw new InvalidDigestError(value)
  return value
}

export function digestAlgorithm (digest: Digest): Algorithm {
  return digest.slice(0, digest.indexOf(':')) as Algorithm
}

export function digestHex (digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1)
}

/** The digest of bytes held in memory (manifests, configs); large blobs are hashed while streaming instead. */
export function digestOf (data: Uint8Array | string, algorithm: Algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`
}
