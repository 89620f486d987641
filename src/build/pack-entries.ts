/**
 * Entries into a tar-stream pack, the way every layer of a build is written (docs/formats.md "OCI layers"): names
 * relative to the rootfs (no leading `/`, directories with a trailing `/`), owner and mtime given by the build,
 * modes kept. Nothing here chooses an order: callers add entries sorted, so the same input gives the same tar.
 */
import { once } from 'node:events'
import type { Header, Pack } from 'tar-stream'
import type { Owner } from './settings.ts'

export type EntryHeader = Partial<Header> & Pick<Header, 'name' | 'type'>

/** What every entry of one layer shares: its owner and its mtime. */
export interface EntryStamp {
  owner: Owner
  mtime: Date
}

/** Adds one entry; `body` (for regular files) is streamed, its length must be the header's `size`. */
export async function putEntry (pack: Pack, header: EntryHeader, body?: AsyncIterable<Uint8Array>): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, err => { if (err != null) reject(err); else resolve() })
    if (body === undefined) {
      sink.end(undefined)
      return
    }
    void (async () => {
      for await (const chunk of body) {
        if (!sink.write(chunk)) await once(sink, 'drain')
      }
      sink.end(undefined)
    })().catch(err => { sink.destroy(err as Error); reject(err) })
  })
  await done
}

/** `a/b/` for each of `dest`'s components: the directories a layer holds before anything added under `dest`. */
export function parentDirs (dest: string): string[] {
  const parts = dest.split('/').filter(p => p !== '')
  return parts.map((_p, i) => parts.slice(0, i + 1).join('/') + '/')
}

/** Adds the directories `dest` and its parents as 0755 directories of the stamp's owner. */
export async function putDirs (pack: Pack, dest: string, stamp: EntryStamp): Promise<void> {
  for (const name of parentDirs(dest)) {
    await putEntry(pack, { name, type: 'directory', mode: 0o755, uid: stamp.owner.uid, gid: stamp.owner.gid, mtime: stamp.mtime })
  }
}

/** `rel` under `dest` (both relative, cleaned): the entry name in the layer. */
export function underDest (dest: string, rel: string): string {
  return dest === '' ? rel : rel === '' ? dest : `${dest}/${rel}`
}
