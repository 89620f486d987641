/**
 * ed25519 signatures on path infos, compatible with `nix-store --generate-binary-cache-key` keys and Nix's
 * `ValidPathInfo::fingerprint` (docs/formats.md "narinfo and signatures"): secret keys are `name:base64(seed || public)`, public keys
 * `name:base64(public)`, signatures `name:base64(sig)` over
 * `1;<storePath>;<narHash>;<narSize>;<comma-joined sorted full reference paths>`. Node's crypto signs
 * byte-identically to libsodium once the raw keys are wrapped in their PKCS8 / SPKI DER prefixes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { NixKeyError, SignatureError } from './errors.ts'
import { parseNixHash } from './hash.ts'
import type { PathInfo } from './path-info.ts'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export interface SecretKey {
  name: string
  /** The 32-byte ed25519 seed. */
  seed: Uint8Array
  publicKey: PublicKey
  key: KeyObject
}

export interface PublicKey {
  name: string
  /** The 32-byte ed25519 public key. */
  bytes: Uint8Array
  key: KeyObject
}

function splitKey (text: string, bytes: number, what: string): { name: string, raw: Buffer } {
  const trimmed = text.trim()
  const colon = trimmed.indexOf(':')
  if (colon <= 0) throw new NixKeyError(`a ${what} is 'name:base64'`)
  const name = trimmed.slice(0, colon)
  const body = trimmed.slice(colon + 1)
  const raw = Buffer.from(body, 'base64')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || raw.length !== bytes) throw new NixKeyError(`a ${what} holds ${bytes} base64 bytes`)
  return { name, raw }
}

function publicFromRaw (name: string, raw: Uint8Array): PublicKey {
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
  return { name, bytes: Uint8Array.from(raw), key }
}

function secretFromSeed (name: string, seed: Uint8Array): SecretKey {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return { name, seed: Uint8Array.from(seed), publicKey: publicFromRaw(name, spki.subarray(SPKI_PREFIX.length)), key }
}

/** Parses `name:base64(64 bytes)`; the trailing 32 bytes must be the public key of the leading seed. */
export function parseSecretKey (text: string): SecretKey {
  const { name, raw } = splitKey(text, 64, 'secret key')
  const secret = secretFromSeed(name, raw.subarray(0, 32))
  if (!Buffer.from(secret.publicKey.bytes).equals(raw.subarray(32))) throw new NixKeyError('the public half does not match the seed')
  return secret
}

export function parsePublicKey (text: string): PublicKey {
  const { name, raw } = splitKey(text, 32, 'public key')
  return publicFromRaw(name, raw)
}

export function formatSecretKey (secret: SecretKey): string {
  return `${secret.name}:${Buffer.concat([secret.seed, secret.publicKey.bytes]).toString('base64')}`
}

export function formatPublicKey (key: PublicKey): string {
  return `${key.name}:${Buffer.from(key.bytes).toString('base64')}`
}

/** A new key pair, as `nix-store --generate-binary-cache-key name` would make (conventionally `host-1`). */
export function generateSecretKey (name: string): SecretKey {
  if (name === '' || name.includes(':')) throw new NixKeyError('a key name is non-empty and has no colon')
  const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' })
  return secretFromSeed(name, pkcs8.subarray(PKCS8_PREFIX.length))
}

/** Nix's fingerprint of a path info: what a signature signs. */
export function fingerprint (info: Pick<PathInfo, 'path' | 'narHash' | 'narSize' | 'references'>): string {
  if (info.narSize <= 0) throw new NixKeyError(`cannot sign ${info.path}: its NAR size is not known`)
  return `1;${info.path};${parseNixHash(info.narHash)};${info.narSize};${[...info.references].sort().join(',')}`
}

/** A `name:base64` signature on `info` by `secret`. */
export function signPathInfo (info: Pick<PathInfo, 'path' | 'narHash' | 'narSize' | 'references'>, secret: SecretKey): string {
  return `${secret.name}:${sign(null, Buffer.from(fingerprint(info)), secret.key).toString('base64')}`
}

/** True when `signature` (`name:base64`) is by one of `keys` (matched by name) and valid for `info`. */
export function verifySignature (info: Pick<PathInfo, 'path' | 'narHash' | 'narSize' | 'references'>, signature: string, keys: readonly PublicKey[]): boolean {
  const colon = signature.indexOf(':')
  if (colon <= 0) return false
  const name = signature.slice(0, colon)
  const raw = Buffer.from(signature.slice(colon + 1), 'base64')
  if (raw.length !== 64) return false
  const data = Buffer.from(fingerprint(info))
  return keys.some(key => key.name === name && verify(null, data, key.key, raw))
}

/** True when at least one of `info.sigs` verifies against `keys`. */
export function isSignedBy (info: PathInfo, keys: readonly PublicKey[]): boolean {
  return info.sigs.some(sig => verifySignature(info, sig, keys))
}

/** Throws SignatureError unless at least one of `info.sigs` verifies against `keys`. */
export function assertSignedBy (info: PathInfo, keys: readonly PublicKey[]): void {
  if (!isSignedBy(info, keys)) throw new SignatureError(info.path)
}
