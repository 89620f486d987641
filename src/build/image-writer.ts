/**
 * The config and manifest of a built image (docs/formats.md "Manifests, indexes and configs"), written after its
 * layers and tagged last, inside the build's transaction: on any failure the ref is not set and the blobs the build
 * added are removed again (image/transaction.ts). A base image's layers are referenced by their descriptors, never
 * copied; its config is kept as it was read, with our fields overlaid.
 */
import { digestOf, type Digest } from '../oci/digest.ts'
import { MEDIA_TYPE } from '../oci/media-types.ts'
import { hostPlatform } from '../oci/platform.ts'
import { parseReference } from '../oci/reference.ts'
import type { Descriptor, Manifest } from '../oci/types.ts'
import { BlobNotFoundError } from '../store/errors.ts'
import type { Store } from '../store/store.ts'
import type { ImportTransaction } from '../image/transaction.ts'
import { BuildOptionError } from './errors.ts'
import type { WrittenLayer } from './layer-writer.ts'
import { applySettings, type ImageSettings } from './settings.ts'

/** A base image as the build uses it: its layers and diff_ids, and its config as parsed JSON. */
export interface BaseImage {
  manifest: Manifest
  config: Record<string, unknown>
}

export interface NewLayer extends WrittenLayer {
  /** The history entry's `created_by`: what made the layer, with no host path in it. */
  createdBy: string
}

export interface ImagePlan {
  /** `name:tag` to tag the image with. */
  ref: string
  base?: BaseImage
  layers: NewLayer[]
  settings: ImageSettings
  /** Seconds since the epoch, for `created` (config and history). */
  epoch: number
  /** Replace the base's diff_ids and history instead of extending them (squash). */
  replaceLayers?: boolean
}

export interface BuiltImage {
  ref: string
  digest: Digest
  size: number
  config: Digest
  layers: Digest[]
}

/** `name:tag` of `-t`; a tag is required (a digest names no ref). */
export function buildRef (value: string): string {
  const parsed = parseReference(value)
  if (parsed.digest !== undefined) throw new BuildOptionError(`-t wants name:tag, not a digest reference (${value})`)
  return `${parsed.name}:${parsed.tag ?? 'latest'}`
}

function isoTime (epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace('.000Z', 'Z')
}

function configFor (plan: ImagePlan): Record<string, unknown> {
  const base = plan.base?.config ?? { architecture: hostPlatform().architecture, os: 'linux' }
  const created = isoTime(plan.epoch)
  const keep = plan.replaceLayers !== true
  const baseRootfs = base.rootfs as { diff_ids?: Digest[] } | undefined
  const baseHistory = Array.isArray(base.history) ? base.history as unknown[] : []
  return {
    ...base,
    created,
    config: applySettings(base.config as Record<string, unknown> | undefined, plan.settings),
    rootfs: { type: 'layers', diff_ids: [...(keep ? baseRootfs?.diff_ids ?? [] : []), ...plan.layers.map(l => l.diffId)] },
    history: [...(keep ? baseHistory : []), ...plan.layers.map(l => ({ created, created_by: l.createdBy }))]
  }
}

async function putJson (store: Store, tx: ImportTransaction, mediaType: string, value: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value))
  const digest = digestOf(bytes)
  await tx.blob(digest, async lease => await store.blobs.write(digest, [bytes], { size: bytes.byteLength, lease }))
  return { mediaType, digest, size: bytes.byteLength }
}

/** Writes config and manifest and tags the image; the base's layers must be in the store (leased here). */
export async function commitImage (store: Store, tx: ImportTransaction, plan: ImagePlan): Promise<BuiltImage> {
  const baseLayers = plan.replaceLayers === true ? [] : plan.base?.manifest.layers ?? []
  for (const layer of baseLayers) {
    await tx.blob(layer.digest, async () => { throw new BlobNotFoundError(layer.digest) })
  }
  const config = await putJson(store, tx, MEDIA_TYPE.ociConfig, configFor(plan))
  const layers = [...baseLayers, ...plan.layers.map(l => l.descriptor)]
  const manifest = await putJson(store, tx, MEDIA_TYPE.ociManifest, { schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config, layers })
  await tx.commit([{ ref: plan.ref, descriptor: manifest }])
  return { ref: plan.ref, digest: manifest.digest, size: manifest.size, config: config.digest, layers: layers.map(l => l.digest) }
}
