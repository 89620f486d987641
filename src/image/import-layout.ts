/**
 * `image import <dir>[:ref]`: copies images from an OCI image layout directory (docs/formats.md "OCI image layout")
 * into the store. The whole graph is checked first (every blob present with the right size, every manifest
 * valid); then blobs are copied, each verified against its digest while streaming; refs are written last.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { digestAlgorithm, digestHex, digestOf } from '../oci/digest.ts'
import { REF_NAME_ANNOTATION } from '../oci/reference.ts'
import { parseIndex, type Descriptor } from '../oci/types.ts'
import { DigestMismatchError } from '../store/errors.ts'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'
import { InvalidImageSourceError } from './errors.ts'
import { storeRefFor } from './names.ts'
import { planGraph, selectEntries } from './select.ts'
import { ImportTransaction, type ImportedImage } from './transaction.ts'

export interface ImportOptions {
  /** The `ref.name` to import from the source; default: every tagged image. */
  sourceRef?: string
  /** The store ref (`name:tag`) to give the image; default: derived from the source ref. */
  as?: string
  signal?: AbortSignal
  onProgress?: (event: { blob: string, bytes: number }) => void
}

function sourceBlobPath (dir: string, descriptor: Descriptor): string {
  return join(dir, 'blobs', digestAlgorithm(descriptor.digest), digestHex(descriptor.digest))
}

async function readLayoutIndex (dir: string): Promise<ReturnType<typeof parseIndex>> {
  try {
    const layout = JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: unknown }
    if (layout.imageLayoutVersion !== '1.0.0') throw new InvalidImageSourceError(`${dir}: unsupported imageLayoutVersion ${String(layout.imageLayoutVersion)}`)
  } catch (err) {
    if (err instanceof InvalidImageSourceError) throw err
    throw new InvalidImageSourceError(`${dir} is not an OCI image layout (no readable oci-layout file)`, err)
  }
  return parseIndex(await readFile(join(dir, 'index.json')))
}

/** Splits `dir:ref` (skopeo's `oci:` transport syntax); a path that exists as given wins. */
export async function splitLayoutArgument (argument: string): Promise<{ dir: string, ref?: string }> {
  const exists = async (p: string): Promise<boolean> => await stat(p).then(() => true, () => false)
  if (await exists(argument)) return { dir: argument }
  const colon = argument.indexOf(':')
  if (colon > 0 && await exists(argument.slice(0, colon))) return { dir: argument.slice(0, colon), ref: argument.slice(colon + 1) }
  throw new InvalidImageSourceError(`${argument}: no such directory`)
}

export async function importLayout (store: Store, dir: string, options: ImportOptions = {}): Promise<ImportedImage[]> {
  const index = await readLayoutIndex(dir)
  const roots = selectEntries(index, options.sourceRef, dir)
  if (options.as !== undefined && roots.length > 1) throw new InvalidImageSourceError(`${dir} holds ${roots.length} images: pick one with <dir>:<ref> to use --name`)
  const readJson = async (d: Descriptor): Promise<Uint8Array> => {
    const bytes = await readFile(sourceBlobPath(dir, d))
    const actual = digestOf(bytes, digestAlgorithm(d.digest))
    if (actual !== d.digest) throw new DigestMismatchError(d.digest, actual)
    return bytes
  }
  const sizeOf = async (d: Descriptor): Promise<number | undefined> => {
    try {
      const info = await stat(sourceBlobPath(dir, d))
      return info.isFile() ? info.size : undefined
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined
      throw err
    }
  }
  const refs = roots.map(d => ({ ref: storeRefFor(d.annotations?.[REF_NAME_ANNOTATION], options.as, dir), descriptor: stripRefName(d) }))
  const results: ImportedImage[] = []
  const tx = await ImportTransaction.begin(store)
  await tx.run(async () => {
    for (const { ref, descriptor } of refs) {
      const plan = await planGraph([descriptor], readJson, sizeOf)
      const before = tx.added.size
      const bytesBefore = tx.bytesWritten
      for (const blob of plan) {
        options.signal?.throwIfAborted()
        await tx.blob(blob.digest, async lease => await store.blobs.write(blob.digest, createReadStream(sourceBlobPath(dir, blob), { highWaterMark: 1024 * 1024 }), {
          size: blob.size,
          lease,
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
          onProgress: bytes => options.onProgress?.({ blob: blob.digest, bytes })
        }))
      }
      results.push({ ref, digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size, blobs: plan.length, newBlobs: tx.added.size - before, bytesWritten: tx.bytesWritten - bytesBefore })
    }
    await tx.commit(refs)
  })
  return results
}

/** The source's own ref annotation is replaced by the store's; other annotations are kept. */
export function stripRefName (descriptor: Descriptor): Descriptor {
  if (descriptor.annotations === undefined) return descriptor
  const { [REF_NAME_ANNOTATION]: _ignored, ...rest } = descriptor.annotations
  const { annotations: _old, ...base } = descriptor
  return Object.keys(rest).length > 0 ? { ...base, annotations: rest } : base
}
