/**
 * `image export <ref> <dir>`: writes an image as an OCI image layout that skopeo and umoci read, blobs
 * byte-identical to the store's. A new directory is built beside the target and renamed into place; an existing
 * layout gets the blobs first and its index.json replaced atomically last, so a failure leaves nothing half-written.
 */
import { constants } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'
import { randomBytes } from 'node:crypto'
import { digestAlgorithm, digestHex } from '../oci/digest.ts'
import { REF_NAME_ANNOTATION } from '../oci/reference.ts'
import { parseIndex, type Descriptor, type ImageIndex } from '../oci/types.ts'
import { walkImage } from '../oci/walk.ts'
import type { Store } from '../store/store.ts'
import { emptyIndex } from '../store/refs.ts'
import { fsyncDir, fsyncPath, writeFileAtomic } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'
import { ExportTargetError } from './errors.ts'

export interface ExportOptions {
  /** The `ref.name` to give the image in the target layout; default: the store ref (`name:tag`). */
  as?: string
}

export interface ExportResult {
  ref: string
  dir: string
  digest: string
  blobs: number
  bytes: number
}

type TargetKind = 'absent' | 'empty' | 'layout'

async function targetKind (dir: string): Promise<TargetKind> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'absent'
    if (isErrno(err, 'ENOTDIR')) throw new ExportTargetError(`${dir} exists and is not a directory`)
    throw err
  }
  if (entries.length === 0) return 'empty'
  if (entries.includes('oci-layout') && entries.includes('index.json')) return 'layout'
  throw new ExportTargetError(`${dir} is neither empty nor an OCI image layout`)
}

/** Copies every blob of the plan into `<root>/blobs`, skipping those present with the right size. */
async function copyBlobs (store: Store, plan: Descriptor[], root: string): Promise<number> {
  let bytes = 0
  const dirs = new Set<string>()
  for (const d of plan) {
    const target = join(root, 'blobs', digestAlgorithm(d.digest), digestHex(d.digest))
    const existing = await stat(target).catch(() => undefined)
    if (existing?.size === d.size) continue
    await mkdir(dirname(target), { recursive: true })
    const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`
    try {
      await copyFile(store.paths.blob(d.digest), tmp, constants.COPYFILE_FICLONE)
      await fsyncPath(tmp)
      await rename(tmp, target)
    } finally {
      await rm(tmp, { force: true })
    }
    bytes += d.size
    dirs.add(dirname(target))
  }
  // The blobs must be on disk before the index.json that names them is written.
  for (const dir of dirs) await fsyncDir(dir)
  return bytes
}

function withRef (index: ImageIndex, ref: string, descriptor: Descriptor): ImageIndex {
  const others = index.manifests.filter(d => d.annotations?.[REF_NAME_ANNOTATION] !== ref)
  return { ...index, manifests: [...others, { ...descriptor, annotations: { ...(descriptor.annotations ?? {}), [REF_NAME_ANNOTATION]: ref } }] }
}

export async function exportImage (store: Store, reference: string, dir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const { ref, descriptor } = await store.resolve(reference)
  const plan: Descriptor[] = []
  await walkImage([descriptor], async d => await store.blobs.readBytes(d.digest), { visit: d => { plan.push(d) } })
  const name = options.as ?? ref
  const kind = await targetKind(dir)
  if (kind === 'layout') {
    const bytes = await copyBlobs(store, plan, dir)
    const index = parseIndex(await readFile(join(dir, 'index.json')))
    await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(withRef(index, name, descriptor)) + '\n')
    return { ref: name, dir, digest: descriptor.digest, blobs: plan.length, bytes }
  }
  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${randomBytes(4).toString('hex')}`)
  try {
    await mkdir(staging, { recursive: true })
    const bytes = await copyBlobs(store, plan, staging)
    await writeFileAtomic(join(staging, 'index.json'), JSON.stringify(withRef(emptyIndex(), name, descriptor)) + '\n')
    await writeFileAtomic(join(staging, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    await rename(staging, dir)
    return { ref: name, dir, digest: descriptor.digest, blobs: plan.length, bytes }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}
