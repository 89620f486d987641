/**
 * Refs (tags) in `index.json`: each tagged image is a descriptor carrying the `org.opencontainers.image.ref.name`
 * annotation (docs/formats.md "OCI image layout"). Updates take the index lock and replace the file
 * atomically, so readers never see half a file and two writers never lose each other's change.
 */
import { readFile } from 'node:fs/promises'
import { MEDIA_TYPE } from '../oci/media-types.ts'
import { REF_NAME_ANNOTATION } from '../oci/reference.ts'
import { parseIndex, type Descriptor, type ImageIndex } from '../oci/types.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'
import { withLock } from './lock.ts'
import type { LayoutPaths } from './paths.ts'

export interface RefEntry {
  ref: string
  descriptor: Descriptor
}

export function emptyIndex (): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [] }
}

export class RefStore {
  private readonly paths: LayoutPaths

  constructor (paths: LayoutPaths) {
    this.paths = paths
  }

  async readIndex (): Promise<ImageIndex> {
    try {
      return parseIndex(await readFile(this.paths.indexFile))
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return emptyIndex()
      throw err
    }
  }

  async list (): Promise<RefEntry[]> {
    const index = await this.readIndex()
    return index.manifests.flatMap(descriptor => {
      const ref = descriptor.annotations?.[REF_NAME_ANNOTATION]
      return ref !== undefined ? [{ ref, descriptor }] : []
    })
  }

  async get (ref: string): Promise<Descriptor | undefined> {
    return (await this.list()).find(entry => entry.ref === ref)?.descriptor
  }

  /** Points `ref` at `descriptor`, replacing what it pointed at before. */
  async set (ref: string, descriptor: Descriptor): Promise<void> {
    await this.setMany([{ ref, descriptor }])
  }

  /** Sets several refs in one update of index.json (one lock, one atomic replace). */
  async setMany (entries: ReadonlyArray<RefEntry>): Promise<void> {
    if (entries.length === 0) return
    const byRef = new Map(entries.map(e => [e.ref, e.descriptor]))
    await this.update(index => {
      const others = index.manifests.filter(d => {
        const ref = d.annotations?.[REF_NAME_ANNOTATION]
        return ref === undefined || !byRef.has(ref)
      })
      const added = [...byRef].map(([ref, d]) => ({ ...d, annotations: { ...(d.annotations ?? {}), [REF_NAME_ANNOTATION]: ref } }))
      return { ...index, manifests: [...others, ...added] }
    })
  }

  /**
   * Removes `ref`; returns the descriptor it pointed at, if any. With `expected`, only while the ref still points
   * at that digest (a ref moved since it was read is left alone, and undefined returned).
   */
  async remove (ref: string, expected?: string): Promise<Descriptor | undefined> {
    return (await this.removeMany([{ ref, ...(expected !== undefined ? { expected } : {}) }]))[0]
  }

  /** Removes several refs in one update of index.json (each as `remove` would); returns the descriptors removed. */
  async removeMany (entries: ReadonlyArray<{ ref: string, expected?: string }>): Promise<Descriptor[]> {
    const removed: Descriptor[] = []
    if (entries.length === 0) return removed
    await this.update(index => {
      const gone = new Set(index.manifests.filter(d => entries.some(e =>
        d.annotations?.[REF_NAME_ANNOTATION] === e.ref && (e.expected === undefined || d.digest === e.expected))))
      removed.push(...gone)
      return { ...index, manifests: index.manifests.filter(d => !gone.has(d)) }
    })
    return removed
  }

  private async update (change: (index: ImageIndex) => ImageIndex): Promise<void> {
    await withLock(this.paths.locksDir, 'index', async () => {
      const next = change(await this.readIndex())
      await writeFileAtomic(this.paths.indexFile, JSON.stringify(next, null, 2) + '\n', this.paths.tmpDir)
    })
  }
}
