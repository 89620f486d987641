/**
 * Nix hash strings. We always write sha256 hashes as `sha256:<nix32>` (what narinfo files and the signature
 * fingerprint use, docs/formats.md "Nix store paths and nix32") and read that form, base16 (`sha256:<64 hex>`) and SRI (`sha256-<base64>`, which
 * `nix path-info --json` prints), normalising to nix32.
 */
import { createHash } from 'node:crypto'
import { decodeNix32, encodeNix32 } from './nix32.ts'
import { NixHashError } from './errors.ts'

/** A sha256 hash in Nix's canonical text form: `sha256:` + 52 nix32 characters. */
export type NixHash = `sha256:${string}`

const SHA256_BYTES = 32

export function formatNixHash (digest: Uint8Array): NixHash {
  if (digest.length !== SHA256_BYTES) throw new NixHashError(`(${digest.length} bytes)`, 'a sha256 digest has 32 bytes')
  return `sha256:${encodeNix32(digest)}`
}

/** Parses `sha256:<nix32|hex|base64>` or `sha256-<base64>` and returns the raw 32-byte digest. */
export function nixHashBytes (value: string): Uint8Array {
  const sri = value.startsWith('sha256-')
  if (!sri && !value.startsWith('sha256:')) throw new NixHashError(value, 'only sha256 hashes are supported')
  const body = value.slice('sha256:'.length)
  let bytes: Uint8Array
  if (!sri && body.length === 52) {
    try {
      bytes = decodeNix32(body)
    } catch (err) {
      throw new NixHashError(value, 'bad nix32', { cause: err })
    }
  } else if (!sri && body.length === 64 && /^[0-9a-f]+$/.test(body)) {
    bytes = Buffer.from(body, 'hex')
  } else if (body.length === 44 && /^[A-Za-z0-9+/]{43}=$/.test(body)) {
    bytes = Buffer.from(body, 'base64')
  } else {
    throw new NixHashError(value, 'not nix32, base16 or base64 of 32 bytes')
  }
  if (bytes.length !== SHA256_BYTES) throw new NixHashError(value, 'not 32 bytes')
  return bytes
}

/** Normalises any accepted sha256 form to `sha256:<nix32>`. */
export function parseNixHash (value: string): NixHash {
  return formatNixHash(nixHashBytes(value))
}

/** The `sha256:<nix32>` hash of bytes held in memory. */
export function nixHashOf (data: Uint8Array | string): NixHash {
  return formatNixHash(createHash('sha256').update(data).digest())
}
