/**
 * The node's Nix signing key: `<dir>/signing.sec` and `<dir>/signing.pub` in the format
 * `nix-store --generate-binary-cache-key` writes, generated on first use. Its public half is what other nodes
 * list in `nixTrustedKeys` and what Nix clients of the node's binary cache list in `trusted-public-keys`.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../util/errors.ts'
import { generateKeyFiles, loadSecretKeyFile } from './key-files.ts'
import type { SecretKey } from './signing.ts'

export const SIGNING_KEY_FILE = 'signing.sec'
export const PUBLIC_KEY_FILE = 'signing.pub'

/**
 * Loads the key in `dir`, or generates one named `name` (e.g. `emergence-<peer id>-1`: Nix matches signatures to
 * trusted keys by name, so names must differ between nodes). Two processes racing here end with one key.
 */
export async function loadOrCreateNodeKey (dir: string, name: string): Promise<SecretKey> {
  const secretPath = join(dir, SIGNING_KEY_FILE)
  try {
    return await loadSecretKeyFile(secretPath)
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err
  }
  await mkdir(dir, { recursive: true, mode: 0o700 })
  try {
    return await generateKeyFiles(name, secretPath, join(dir, PUBLIC_KEY_FILE))
  } catch (err) {
    // Another process generated it between our read and our exclusive create.
    if (isErrno(err, 'EEXIST')) return await loadSecretKeyFile(secretPath)
    throw err
  }
}
