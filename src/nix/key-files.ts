/**
 * Key files in the format `nix-store --generate-binary-cache-key NAME SECRET PUBLIC` writes: one `name:base64`
 * line each, the secret one readable by its owner only.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { formatPublicKey, formatSecretKey, generateSecretKey, parsePublicKey, parseSecretKey } from './signing.ts'
import type { PublicKey, SecretKey } from './signing.ts'

export async function loadSecretKeyFile (path: string): Promise<SecretKey> {
  return parseSecretKey(await readFile(path, 'utf8'))
}

export async function loadPublicKeyFile (path: string): Promise<PublicKey> {
  return parsePublicKey(await readFile(path, 'utf8'))
}

/**
 * Generates a key pair and writes it to `secretPath` (mode 0600) and `publicPath`. Refuses to overwrite an
 * existing file (EEXIST), so a key in use is never lost.
 */
export async function generateKeyFiles (name: string, secretPath: string, publicPath: string): Promise<SecretKey> {
  const secret = generateSecretKey(name)
  await writeFile(secretPath, formatSecretKey(secret), { mode: 0o600, flag: 'wx' })
  await writeFile(publicPath, formatPublicKey(secret.publicKey), { mode: 0o644, flag: 'wx' })
  return secret
}
