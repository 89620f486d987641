/**
 * `image import --archive <file.tar>`: an OCI archive (a tar of an OCI image layout, as `skopeo copy
 * oci-archive:` writes) or a `docker save` archive (manifest.json with RepoTags, Config and Layers; both the legacy
 * `<id>/layer.tar` form and the OCI-layout form of Docker 25+). Blobs stream into the store while the tar is read;
 * the graph is checked once the whole archive is in; any failure removes what the import added.
 */
import { z } from 'zod'
import { digestOf, type Digest } from '../oci/digest.ts'
import { MEDIA_TYPE } from '../oci/media-types.ts'
import { parseIndex, parseJsonBytes, type Descriptor } from '../oci/types.ts'
import { REF_NAME_ANNOTATION } from '../oci/reference.ts'
import type { Store } from '../store/store.ts'
import { readArchive, resolveEntry, type ArchiveContents } from './archive-entries.ts'
import { InvalidImageSourceError, MissingBlobError } from './errors.ts'
import { stripRefName, type ImportOptions } from './import-layout.ts'
import { storeRefFor } from './names.ts'
import { planGraph, selectEntries } from './select.ts'
import { ImportTransaction, type ImportedImage } from './transaction.ts'

const dockerManifestSchema = z.array(z.object({
  Config: z.string(),
  RepoTags: z.array(z.string()).nullish(),
  Layers: z.array(z.string())
})).min(1)

/** containerd and Docker 25+ put the full image name here; `ref.name` then holds only the tag. */
const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name'

export async function importArchive (store: Store, file: string, options: ImportOptions = {}): Promise<ImportedImage[]> {
  const tx = await ImportTransaction.begin(store)
  return await tx.run(async () => {
    const contents = await readArchive(store, file, tx, options.signal)
    const refs = contents.files.has('index.json') && contents.files.has('oci-layout')
      ? ociArchiveRefs(contents, file, options)
      : await dockerArchiveRefs(store, contents, file, tx, options)
    const results: ImportedImage[] = []
    for (const { ref, descriptor } of refs) {
      const plan = await planGraph([descriptor], async d => await store.blobs.readBytes(d.digest), async d => (await store.blobs.stat(d.digest))?.size)
      results.push({ ref, digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size, blobs: plan.length, newBlobs: plan.filter(d => tx.added.has(d.digest)).length, bytesWritten: plan.filter(d => tx.added.has(d.digest)).reduce((n, d) => n + d.size, 0) })
    }
    await tx.commit(refs)
    return results
  })
}

function ociArchiveRefs (contents: ArchiveContents, file: string, options: ImportOptions): Array<{ ref: string, descriptor: Descriptor }> {
  const index = parseIndex(contents.files.get('index.json') ?? Buffer.alloc(0))
  const roots = selectEntries(index, options.sourceRef, file)
  if (options.as !== undefined && roots.length > 1) throw new InvalidImageSourceError(`${file} holds ${roots.length} images: use --ref to pick one`)
  return roots.map(d => {
    const fullName = d.annotations?.[CONTAINERD_NAME_ANNOTATION]
    const source = fullName !== undefined ? fullName.replace(/^docker\.io\//, '') : d.annotations?.[REF_NAME_ANNOTATION]
    const descriptor = stripRefName(d)
    const { [CONTAINERD_NAME_ANNOTATION]: _ignored, ...annotations } = descriptor.annotations ?? {}
    const { annotations: _old, ...base } = descriptor
    return { ref: storeRefFor(source, options.as, file), descriptor: Object.keys(annotations).length > 0 ? { ...base, annotations } : base }
  })
}

/** The blob an archive entry name refers to, through links. */
function blobForEntry (contents: ArchiveContents, name: string, what: string): { digest: Digest, size: number } | Buffer {
  const resolved = resolveEntry(contents, name)
  const blob = contents.blobs.get(resolved)
  if (blob !== undefined) return blob
  const small = contents.files.get(resolved)
  if (small !== undefined) return small
  throw new MissingBlobError(name, `manifest.json (${what})`)
}

/** Builds an OCI manifest for each manifest.json entry (layers of `docker save` are uncompressed tars). */
async function dockerArchiveRefs (store: Store, contents: ArchiveContents, file: string, tx: ImportTransaction, options: ImportOptions): Promise<Array<{ ref: string, descriptor: Descriptor }>> {
  const manifestJson = contents.files.get('manifest.json')
  if (manifestJson === undefined) throw new InvalidImageSourceError(`${file} is neither an OCI archive (index.json + oci-layout) nor a docker save archive (manifest.json)`)
  const parsed = dockerManifestSchema.safeParse(parseJsonBytes(manifestJson, 'manifest.json'))
  if (!parsed.success) throw new InvalidImageSourceError(`${file}: manifest.json is malformed: ${parsed.error.issues[0]?.message ?? ''}`)
  // `--ref` picks the images carrying that tag; the others in the archive are not imported.
  const wanted = options.sourceRef
  const matches = (tag: string): boolean => wanted === undefined || tag === wanted || tag.replace(/^docker\.io\//, '') === wanted.replace(/^docker\.io\//, '')
  const entries = parsed.data.filter(entry => wanted === undefined || (entry.RepoTags ?? []).some(matches))
  if (entries.length === 0) {
    const tags = parsed.data.flatMap(entry => entry.RepoTags ?? []).join(', ')
    throw new InvalidImageSourceError(`${file} has no image tagged ${JSON.stringify(wanted)} (it has: ${tags !== '' ? tags : 'no tags'})`)
  }
  if (options.as !== undefined && entries.length > 1) throw new InvalidImageSourceError(`${file} holds ${entries.length} images: use --ref to pick one`)
  const refs: Array<{ ref: string, descriptor: Descriptor }> = []
  for (const entry of entries) {
    const storeBlob = async (found: { digest: Digest, size: number } | Buffer): Promise<{ digest: Digest, size: number }> =>
      Buffer.isBuffer(found) ? await tx.blob(digestOf(found), async lease => await store.blobs.add([found], { lease })) : found
    const config = await storeBlob(blobForEntry(contents, entry.Config, 'Config'))
    const layers: Descriptor[] = []
    for (const layer of entry.Layers) {
      const blob = await storeBlob(blobForEntry(contents, layer, 'Layers'))
      layers.push({ mediaType: MEDIA_TYPE.ociLayer, digest: blob.digest, size: blob.size })
    }
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: config.digest, size: config.size },
      layers
    }))
    const stored = await tx.blob(digestOf(manifest), async lease => await store.blobs.add([manifest], { lease }))
    const descriptor: Descriptor = { mediaType: MEDIA_TYPE.ociManifest, digest: stored.digest, size: stored.size }
    const tags = entry.RepoTags ?? []
    const names = options.as !== undefined ? [options.as] : tags.filter(matches)
    if (names.length === 0) throw new InvalidImageSourceError(`${file}: an image has no RepoTags: give a name with --name`)
    for (const name of names) refs.push({ ref: storeRefFor(undefined, name.replace(/^docker\.io\//, ''), file), descriptor })
  }
  return refs
}
