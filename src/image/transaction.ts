/**
 * An import as one transaction: blobs are written under a lease, refs are set last, and a failure removes the
 * blobs this import added (unless something else references or leases them), so the store ends as it was.
 */
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Store } from '../store/store.ts'
import type { BlobInfo } from '../store/blob-store.ts'
import type { Lease } from '../store/leases.ts'
import { markReachable, sweepBlobs } from '../store/gc.ts'

export interface ImportedImage {
  ref: string
  digest: Digest
  mediaType: string
  size: number
  /** Blobs the image consists of, and how many of them were not in the store before. */
  blobs: number
  newBlobs: number
  /** Bytes written to the store by this import. */
  bytesWritten: number
}

export class ImportTransaction {
  readonly added = new Set<Digest>()
  bytesWritten = 0
  private readonly store: Store
  private readonly lease: Lease

  private constructor (store: Store, lease: Lease) {
    this.store = store
    this.lease = lease
  }

  static async begin (store: Store): Promise<ImportTransaction> {
    return new ImportTransaction(store, await store.createLease())
  }

  /** Writes one blob through `write` unless the store has it; remembers it as added. */
  async blob (digest: Digest | undefined, write: (lease: Lease) => Promise<BlobInfo>): Promise<BlobInfo> {
    if (digest !== undefined) {
      // Lease before looking, so that GC cannot remove the blob between the look and the ref (gc.ts sweepBlobs).
      await this.lease.add(digest)
      const existing = await this.store.blobs.stat(digest)
      if (existing !== undefined) return existing
    }
    const info = await write(this.lease)
    if (!this.added.has(info.digest)) {
      this.added.add(info.digest)
      this.bytesWritten += info.size
    }
    return info
  }

  /** Sets the refs, then releases the lease. */
  async commit (refs: Array<{ ref: string, descriptor: Descriptor }>): Promise<void> {
    for (const { ref, descriptor } of refs) await this.store.refs.set(ref, descriptor)
    await this.lease.release()
  }

  /** Removes what this import added and nothing else references, then releases the lease. */
  async rollback (): Promise<void> {
    try {
      const reachable = this.added.size > 0 ? await markReachable(this.store) : new Set<Digest>()
      await sweepBlobs(this.store, [...this.added].filter(digest => !reachable.has(digest)), this.lease)
    } finally {
      await this.lease.release()
    }
  }

  /** Runs `fn`, rolling back on any failure. */
  async run<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      await this.rollback()
      throw err
    }
  }
}
