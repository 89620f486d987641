/**
 * The store: an OCI image layout on disk that every node keeps its images in, plus Emergence's bookkeeping.
 * `Store.open()` creates the layout on first use and cleans temp files left by dead processes.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../util/errors.ts'
import { processAlive, writeFileAtomic } from '../util/fs.ts'
import { parseDigest, type Digest } from '../oci/digest.ts'
import { parseReference, formatReference } from '../oci/reference.ts'
import { sniffMediaType } from '../oci/walk.ts'
import type { Descriptor } from '../oci/types.ts'
import { FsBlobStore } from './blob-store.ts'
import { NotALayoutError, RefNotFoundError } from './errors.ts'
import { collectGarbage, type GcOptions, type GcResult } from './gc.ts'
import { createLease, type Lease } from './leases.ts'
import { openPartial, type PartialBlob } from './partial.ts'
import { LayoutPaths } from './paths.ts'
import { withLock } from './lock.ts'
import { PinStore } from './pins.ts'
import { RefStore, emptyIndex } from './refs.ts'
import { verifyStore, type VerifyResult } from './verify.ts'

export const IMAGE_LAYOUT_VERSION = '1.0.0'

/** Entries `ensureLayout` creates (blobs/ first) before `oci-layout`; seen without it, another process is creating the layout. */
/** What a layout's root holds while it is being created: our bookkeeping (paths.ts) and the layout's files. */
const LAYOUT_ENTRIES = new Set(['.emergence', 'blobs', 'index.json', 'oci-layout'])

export class Store {
  readonly paths: LayoutPaths
  readonly blobs: FsBlobStore
  readonly refs: RefStore
  readonly pins: PinStore

  private constructor (root: string) {
    this.paths = new LayoutPaths(root)
    this.blobs = new FsBlobStore(this.paths)
    this.refs = new RefStore(this.paths)
    this.pins = new PinStore(this.paths)
  }

  get root (): string {
    return this.paths.root
  }

  /** Opens the layout at `root`, creating it when the directory is absent or empty. */
  static async open (root: string): Promise<Store> {
    const store = new Store(root)
    await store.ensureLayout()
    await store.cleanTemp()
    return store
  }

  private async ensureLayout (): Promise<void> {
    await mkdir(this.root, { recursive: true })
    let layout = await this.readLayoutFile()
    if (layout === undefined) {
      // Refuse foreign content before touching anything (the lock below lives inside the root).
      await this.assertOnlyLayoutEntries()
      // Creation runs under the index lock, so that processes opening a new store at once do not see each
      // other's half-made layout as foreign content.
      await withLock(this.paths.locksDir, 'index', async () => {
        layout = await this.readLayoutFile()
        if (layout === undefined) await this.createLayout()
      })
      if (layout === undefined) return
    }
    let version: unknown
    try {
      version = (JSON.parse(layout) as { imageLayoutVersion?: unknown }).imageLayoutVersion
    } catch {
      throw new NotALayoutError(this.root, 'oci-layout is not JSON')
    }
    if (version !== IMAGE_LAYOUT_VERSION) throw new NotALayoutError(this.root, `unsupported imageLayoutVersion ${String(version)}`)
    await mkdir(join(this.paths.blobsDir, 'sha256'), { recursive: true })
  }

  private async readLayoutFile (): Promise<string | undefined> {
    try {
      return await readFile(this.paths.layoutFile, 'utf8')
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined
      throw err
    }
  }

  /**
   * Throws unless the directory holds only what a layout being created holds: our bookkeeping, `blobs/`, an
   * `index.json` beside `blobs/` (a creation interrupted before `oci-layout`), and `oci-layout` itself.
   */
  private async assertOnlyLayoutEntries (): Promise<void> {
    const names = await readdir(this.root)
    const foreign = names.some(name => !LAYOUT_ENTRIES.has(name)) ||
      (names.includes('index.json') && !names.includes('blobs') && !names.includes('oci-layout'))
    if (foreign) throw new NotALayoutError(this.root, 'the directory is not empty and has no oci-layout file')
  }

  /** Makes an empty layout, or completes one whose creation was interrupted. */
  private async createLayout (): Promise<void> {
    await this.assertOnlyLayoutEntries()
    await mkdir(join(this.paths.blobsDir, 'sha256'), { recursive: true })
    await writeFile(this.paths.indexFile, JSON.stringify(emptyIndex(), null, 2) + '\n', { flag: 'wx' }).catch(err => {
      if (!isErrno(err, 'EEXIST')) throw err
    })
    // oci-layout last: its presence says the layout is complete.
    await writeFileAtomic(this.paths.layoutFile, JSON.stringify({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }), this.paths.tmpDir)
  }

  /** Removes temp files whose writer (named by pid in the file name) is no longer running. */
  async cleanTemp (): Promise<number> {
    let names: string[]
    try {
      names = await readdir(this.paths.tmpDir)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0
      throw err
    }
    let removed = 0
    for (const name of names) {
      const pid = Number(name.split('.').at(-2))
      if (Number.isInteger(pid) && processAlive(pid) && pid !== 0) continue
      await rm(join(this.paths.tmpDir, name), { force: true, recursive: true })
      removed++
    }
    return removed
  }

  async createLease (): Promise<Lease> {
    return await createLease(this.paths.leasesDir)
  }

  async openPartial (digest: Digest, size: number): Promise<PartialBlob> {
    return await openPartial(this.paths, this.blobs, digest, size)
  }

  /**
   * Resolves `name:tag`, `name@digest`, or a bare digest to the descriptor of an image's root (a manifest or an
   * index). A digest ref needs the blob only; a tag needs the ref in index.json.
   */
  async resolve (reference: string): Promise<{ ref: string, descriptor: Descriptor }> {
    if (reference.startsWith('sha256:') || reference.startsWith('sha512:')) {
      const digest = parseDigest(reference)
      return { ref: digest, descriptor: await this.describeBlob(digest, reference) }
    }
    const parsed = parseReference(reference)
    if (parsed.digest !== undefined && parsed.tag === undefined) {
      return { ref: formatReference(parsed), descriptor: await this.describeBlob(parsed.digest, reference) }
    }
    const ref = `${parsed.name}:${parsed.tag ?? 'latest'}`
    const descriptor = await this.refs.get(ref)
    if (descriptor === undefined) throw new RefNotFoundError(ref)
    if (parsed.digest !== undefined && parsed.digest !== descriptor.digest) throw new RefNotFoundError(reference)
    return { ref, descriptor }
  }

  private async describeBlob (digest: Digest, reference: string): Promise<Descriptor> {
    const fromIndex = (await this.refs.readIndex()).manifests.find(d => d.digest === digest)
    if (fromIndex !== undefined) return fromIndex
    const info = await this.blobs.stat(digest)
    if (info === undefined) throw new RefNotFoundError(reference)
    const mediaType = sniffMediaType(await this.blobs.readBytes(digest)) ?? 'application/octet-stream'
    return { mediaType, digest, size: info.size }
  }

  async gc (options?: GcOptions): Promise<GcResult> {
    return await collectGarbage(this, options)
  }

  async verify (options?: Parameters<typeof verifyStore>[1]): Promise<VerifyResult> {
    return await verifyStore(this, options)
  }
}
