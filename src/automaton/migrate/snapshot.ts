/**
 * The state directory as a content-addressed blob (docs/automata.md "Migration"): an uncompressed tar layer
 * (image-spec layer.md) written the way a build writes a directory (build/dir-source.ts: names sorted by their
 * bytes, symlinks kept as links, hard links as tar links, owner 0:0 and mtime 0 on every entry), so the same
 * state gives the same digest. It is hashed as it streams into the store, pinned until the migration ends, and
 * restored on the target by the runner's layer unpacker (the same checks as an image layer: digest again, names
 * inside the root, path limits, free space) into a temp directory renamed into place once complete. A pre-copy
 * (precopy.ts) sends a base snapshot of this kind while the automaton runs and a delta layer after the stop; the
 * delta is applied onto the unpacked base the same way, whiteouts included.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { pack as createPack, type Header, type Pack } from 'tar-stream'
import { packDirectory } from '../../build/dir-source.ts'
import { ROOT_OWNER } from '../../build/settings.ts'
import { MEDIA_TYPE } from '../../oci/media-types.ts'
import type { Store } from '../../store/store.ts'
import type { Logger } from '../../util/logger.ts'
import { applyLayers, isPrivileged } from '../../runner/layer-stream.ts'
import { applyLayersInWorker } from '../../runner/unpack-worker.ts'
import type { Snapshot } from './phases.ts'

/** What `storeTar` shows of each entry it stores. */
export type TarEntry = Partial<Header> & Pick<Header, 'name'>

export const STAMP = { owner: ROOT_OWNER, mtime: new Date(0) }
/** Snapshots up to this size are unpacked on the calling thread. */
const IN_THREAD_BYTES = 4 * 1024 * 1024

/**
 * Streams the tar `fill` writes into the store and pins the blob with `note`; returns its digest and size.
 * `onEntry` sees every entry header as it goes in (the base of a pre-copy records its names: precopy.ts).
 */
export async function storeTar (store: Store, note: string, fill: (pack: Pack) => Promise<void>, onEntry?: (header: TarEntry) => void): Promise<Snapshot> {
  const lease = await store.createLease()
  try {
    const pack = createPack()
    if (onEntry !== undefined) {
      const entry = pack.entry.bind(pack)
      pack.entry = ((header: TarEntry, ...rest: unknown[]) => {
        onEntry(header)
        return (entry as (...args: unknown[]) => ReturnType<Pack['entry']>)(header, ...rest)
      }) as Pack['entry']
    }
    const filling = fill(pack).then(() => { pack.finalize() }, (err: unknown) => {
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

/** Packs `stateDir` into the store and pins the blob with `note`; returns its digest and size. */
export async function snapshotState (store: Store, stateDir: string, note: string): Promise<Snapshot> {
  return await storeTar(store, note, async pack => { await packDirectory(pack, stateDir, '', STAMP) })
}

/** A fresh sibling of `stateDir` to restore into, renamed to `stateDir` once complete. */
async function restoreDir (stateDir: string): Promise<string> {
  const temp = `${stateDir}.restore-${randomBytes(4).toString('hex')}`
  await mkdir(temp, { mode: 0o755 })
  return temp
}

/** Applies the snapshot blob (in the store, verified again as it streams) onto `dir`, whiteouts included. */
async function unpackInto (store: Store, snapshot: Snapshot, dir: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  const descriptor = { mediaType: MEDIA_TYPE.ociLayer, digest: snapshot.digest, size: snapshot.size }
  // An uncompressed layer: its diff_id is its digest.
  const job = { descriptor, diffId: snapshot.digest, path: store.paths.blob(snapshot.digest) }
  const options = { logger, privileged: isPrivileged(), ...(signal !== undefined ? { signal } : {}) }
  // The unpacker's file calls are synchronous: a large snapshot goes to a worker thread so the node keeps
  // serving; a small one is done here, sooner than a worker starts (the restore is downtime).
  if (snapshot.size <= IN_THREAD_BYTES) await applyLayers([job], dir, options)
  else await applyLayersInWorker([job], dir, options)
}

/**
 * Unpacks the base snapshot of a pre-copy into a sibling temp directory of `stateDir` and returns it: the delta
 * goes on top of it later (`restoreState`'s `base`). A failed unpack leaves nothing.
 */
export async function unpackBase (store: Store, base: Snapshot, stateDir: string, logger: Logger, signal?: AbortSignal): Promise<string> {
  const temp = await restoreDir(stateDir)
  try {
    await unpackInto(store, base, temp, logger, signal)
    return temp
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
}

/**
 * Unpacks the snapshot blob (already in the store, verified) into `stateDir`, which must not exist: into a
 * sibling temp directory first, renamed once every entry is in, so a failed restore leaves no state directory.
 * With `base` (a directory `unpackBase` made), the snapshot is a delta layer applied on top of it.
 */
export async function restoreState (store: Store, snapshot: Snapshot, stateDir: string, logger: Logger, signal?: AbortSignal, base?: string): Promise<void> {
  const temp = base ?? await restoreDir(stateDir)
  try {
    await unpackInto(store, snapshot, temp, logger, signal)
    await rename(temp, stateDir)
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
}
