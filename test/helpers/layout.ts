/**
 * OCI image layouts written by hand, byte by byte, for tests that need full control of what a source holds
 * (wrong digests, missing blobs, hostile names). Layers are real tars, so tools can unpack them.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Descriptor } from '../../src/oci/types.ts'
import { MEDIA_TYPE } from '../../src/oci/media-types.ts'
import { REF_NAME_ANNOTATION } from '../../src/oci/reference.ts'
import { sha256 } from './bytes.ts'
import { tarBuffer } from './tar.ts'

export interface BuiltImage {
  manifest: Descriptor
  config: Descriptor
  layers: Descriptor[]
}

/** A layer tar holding `files` (path -> content). */
export async function layerTar (files: Record<string, string>): Promise<Buffer> {
  return await tarBuffer(Object.entries(files).map(([name, data]) => ({ name, data, mode: 0o644 })))
}

/** An image config whose diff_ids match uncompressed `layers`. */
export function configFor (layers: Uint8Array[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map(l => sha256(l)) },
    ...extra
  }))
}

export class LayoutWriter {
  readonly dir: string

  private constructor (dir: string) {
    this.dir = dir
  }

  static async create (dir: string): Promise<LayoutWriter> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true })
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [] }))
    return new LayoutWriter(dir)
  }

  /** Stores `data` under its own digest and returns its descriptor. */
  async blob (data: Uint8Array | string, mediaType: string): Promise<Descriptor> {
    const bytes = Buffer.from(data)
    const digest = sha256(bytes)
    await writeFile(this.blobPath(digest), bytes)
    return { mediaType, digest, size: bytes.byteLength }
  }

  blobPath (digest: string): string {
    const [algorithm = '', hex = ''] = digest.split(':')
    return join(this.dir, 'blobs', algorithm, hex)
  }

  /** Writes the manifest JSON `document` (any shape) as a blob. */
  async manifest (document: unknown): Promise<Descriptor> {
    return await this.blob(JSON.stringify(document), MEDIA_TYPE.ociManifest)
  }

  /** An image of uncompressed tar layers, each a map of path -> content. */
  async image (layerFiles: Array<Record<string, string>>, configExtra: Record<string, unknown> = {}): Promise<BuiltImage> {
    const tars = await Promise.all(layerFiles.map(async files => await layerTar(files)))
    const layers: Descriptor[] = []
    for (const tar of tars) layers.push(await this.blob(tar, MEDIA_TYPE.ociLayer))
    const config = await this.blob(configFor(tars, configExtra), MEDIA_TYPE.ociConfig)
    const manifest = await this.manifest({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers })
    return { manifest, config, layers }
  }

  /** Replaces index.json with these entries; `ref` becomes the ref-name annotation. */
  async index (entries: Array<{ descriptor: Descriptor, ref?: string }>): Promise<void> {
    const manifests = entries.map(({ descriptor, ref }) => ref === undefined
      ? descriptor
      : { ...descriptor, annotations: { ...(descriptor.annotations ?? {}), [REF_NAME_ANNOTATION]: ref } })
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests }))
  }
}
