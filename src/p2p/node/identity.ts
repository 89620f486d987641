/**
 * The node's persistent identity: an Ed25519 private key in `<dir>/peer.key` (libp2p's protobuf encoding),
 * created on first start with mode 0600. The peer id derives from it, so a node keeps its id across restarts
 * and allow-lists can name it.
 */
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { isErrno } from '../../util/errors.ts'
import { fsyncDir } from '../../util/fs.ts'
import { silentLogger, type Logger } from '../../util/logger.ts'
import { IDENTITY_FILE } from '../constants.ts'
import { IdentityFileError } from '../errors.ts'

/** Loads `<dir>/peer.key`, or creates it (mode 0600) when absent. */
export async function loadOrCreateIdentity (dir: string, logger: Logger = silentLogger): Promise<PrivateKey> {
  const path = join(dir, IDENTITY_FILE)
  const existing = await readKey(path, logger)
  if (existing !== undefined) return existing
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  let handle
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (err) {
    // Another process created it first: use theirs.
    if (isErrno(err, 'EEXIST')) {
      const raced = await readKey(path, logger)
      if (raced !== undefined) return raced
    }
    throw new IdentityFileError(path, 'cannot create it', err)
  }
  try {
    await handle.writeFile(privateKeyToProtobuf(key))
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fsyncDir(dir)
  logger.info(`created identity ${path}`)
  return key
}

async function readKey (path: string, logger: Logger): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw new IdentityFileError(path, 'cannot read it', err)
  }
  // An empty file is what a crash between create and write leaves; nothing secret was ever in it.
  if (bytes.byteLength === 0) throw new IdentityFileError(path, 'the file is empty (remove it to create a new identity)')
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityFileError(path, 'not a libp2p private key', err)
  }
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) !== 0) {
    logger.warn(`identity ${path} had mode ${mode.toString(8)}; set to 600`)
    await chmod(path, 0o600)
  }
  return key
}
