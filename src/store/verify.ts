/**
 * `store verify`: re-hash every blob and report the ones whose bytes no longer match their name; optionally move
 * them to `.emergence/quarantine/` so that nothing serves them. Also reports blobs that index.json reaches but
 * the store lacks.
 */
import { mkdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts'
import { walkImage } from '../oci/walk.ts'
import { HashingCounter } from './blob-store.ts'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import type { Store } from './store.ts'

export interface VerifyResult {
  checked: number
  bytes: number
  corrupt: Array<{ digest: Digest, actual: string }>
  missing: Digest[]
  quarantined: Digest[]
}

export async function hashBlob (store: Store, digest: Digest): Promise<{ actual: string, size: number }> {
  const counter = new HashingCounter(digestAlgorithm(digest), undefined, () => new Error('unreachable'))
  await pipeline(await store.blobs.read(digest), counter, new Writable({ write: (_c, _e, cb) => { cb() } }))
  return { actual: `${digestAlgorithm(digest)}:${counter.hash.digest('hex')}`, size: counter.bytes }
}

export async function verifyStore (store: Store, options: { quarantine?: boolean, onBlob?: (digest: Digest) => void } = {}): Promise<VerifyResult> {
  const result: VerifyResult = { checked: 0, bytes: 0, corrupt: [], missing: [], quarantined: [] }
  for await (const digest of store.blobs.list()) {
    options.onBlob?.(digest)
    const { actual, size } = await hashBlob(store, digest)
    result.checked++
    result.bytes += size
    if (actual === digest) continue
    result.corrupt.push({ digest, actual })
    if (options.quarantine === true) {
      await mkdir(store.paths.quarantineDir, { recursive: true })
      await rename(store.paths.blob(digest), join(store.paths.quarantineDir, `${digestAlgorithm(digest)}-${digestHex(digest)}`))
      result.quarantined.push(digest)
    }
  }
  const index = await store.refs.readIndex()
  await walkImage(index.manifests, async d => await store.blobs.readBytes(d.digest), {
    visit: async d => {
      if (!await store.blobs.has(d.digest)) {
        result.missing.push(d.digest)
        return false
      }
      return true
    },
    onMissing: () => 'skip'
  })
  return result
}
