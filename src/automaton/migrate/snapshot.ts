/**
 * The state directory as a content-addressed blob (docs/automata.md "Migration"): an uncompressed tar layer
 * (image-spec layer.md) written the way a build writes a directory (build/dir-source.ts: names sorted by their
 * bytes, symlinks kept as links, hard links as tar links, owner 0:0 and mtime 0 on every entry), so the same
 * state gives the same digest. It is hashed as it streams into the store, pinned until the migration ends, and
 * restored on the target by the runner's layer unpacker (the same checks as an image layer: digest again, names
 * inside the root, path limits, free space) into a temp directory renamed into place once complete.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { pack as createPack } from 'tar-stream'
import { packDirectory } from '../../build/dir-source.ts'
import { ROOT_OWNER } from '../../build/settings.ts'
import { MEDIA_TYPE } from '../../oci/media-types.ts'
import type { Store } from '../../store/store.ts'
import type { Logger } from '../../util/logger.ts'
import { applyLayers, isPrivileged } from '../../runner/layer-stream.ts'
import { applyLayersInWorker } from '../../runner/unpack-worker.ts'
import type { Snapshot } from './phases.ts'

const STAMP = { owner: ROOT_OWNER, mtime: new Date(0) }
/** Snapshots up to this size are unpacked on the calling thread. */
const IN_THREAD_BYTES = 4 * 1024 * 1024

/** Packs `stateDir` into the store and pins the blob with `note`; returns its digest and size. */
export async function snapshotState (store: Store, stateDir: string, note: string): Promise<Snapshot> {
  const lease = await store.createLease()
  try {
    const pack = createPack()
    const filling = packDirectory(pack, stateDir, '', STAMP).then(() => { pack.finalize() }, (err: unknown) => {
      pack.destroy(err as Error)
      throw err
    })
    // The walk's own error is the one to report; the store's write then fails only because the pack was destroyed.
    const [filled, stored] = await Promise.allSettled([filling, store.blobs.add(pack as AsyncIterable<Uint8Array>, { lease })])
    if (filled.status === 'rejected') throw filled.reason
    if (stored.status === 'rejected') throw stored.reason
    await store.pins.add(stored.value.digest, note)
    return { digest: stored.value.digest, size: stored.value.size }
  } finally {
    await lease.release()
  }
}

/**
 * Unpacks the snapshot blob (already in the store, verified) into `stateDir`, which must not exist: into a
 * sibling temp directory first, renamed once every entry is in, so a failed restore leaves no state directory.
 */
export async function restoreState (store: Store, snapshot: Snapshot, stateDir: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  const temp = `${stateDir}.restore-${randomBytes(4).toString('hex')}`
  await mkdir(temp, { mode: 0o755 })
  try {
    const descriptor = { mediaType: MEDIA_TYPE.ociLayer, digest: snapshot.digest, size: snapshot.size }
    // An uncompressed layer: its diff_id is its digest.
    const job = { descriptor, diffId: snapshot.digest, path: store.paths.blob(snapshot.digest) }
    const options = { logger, privileged: isPrivileged(), ...(signal !== undefined ? { signal } : {}) }
    // The unpacker's file calls are synchronous: a large snapshot goes to a worker thread so the node keeps
    // serving; a small one is done here, sooner than a worker starts (the restore is downtime).
    if (snapshot.size <= IN_THREAD_BYTES) await applyLayers([job], temp, options)
    else await applyLayersInWorker([job], temp, options)
    await rename(temp, stateDir)
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
}
