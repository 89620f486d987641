/**
 * How Nix paths travel as OCI blobs (docs/nix.md). A NAR is an ordinary blob whose digest IS its narHash
 * (`sha256:<hex>` of the NAR bytes, the same sha256 as `sha256:<nix32>`), so the blob exchange's final digest check
 * is the narHash check. A path's metadata is a *path record*: an OCI artifact manifest (image-spec manifest.md,
 * "artifactType") whose single layer is the NAR and whose annotations carry the rest of the path info. Being a
 * manifest, the record keeps its NAR alive through GC and `store verify` with no special case in the store.
 *
 * A *closure record* is an OCI index of the path records of a whole closure, each embedded (`data`, descriptor.md),
 * so that one blob answers a whole pull's metadata question instead of one RESOLVE per reference level.
 *
 * Refs in index.json: `nix/<hashPart>:info` -> path record, `nix/<hashPart>:closure` -> closure record.
 */
import { z } from 'zod'
import { digestOf, isDigest, type Digest } from '../oci/digest.ts'
import { MEDIA_TYPE } from '../oci/media-types.ts'
import { MAX_JSON_BYTES, type Descriptor } from '../oci/types.ts'
import { RecordError } from './network-errors.ts'
import { formatNixHash, nixHashBytes, type NixHash } from './hash.ts'
import { sortByDependencies, type PathInfo } from './path-info.ts'
import { baseNameOf, hashPartOf, parseStoreBaseName, parseStorePath, type StorePath } from './store-path.ts'

export const NIX_PATH_ARTIFACT_TYPE = 'application/vnd.emergence.nix.path.v1'
export const NIX_CLOSURE_ARTIFACT_TYPE = 'application/vnd.emergence.nix.closure.v1'
/** An uncompressed NAR, exactly the bytes `nix-store --dump` writes. */
export const NAR_MEDIA_TYPE = 'application/vnd.emergence.nix.nar.v1'
/** Refs of Nix records live under this repository prefix, apart from image names. */
export const NIX_REF_PREFIX = 'nix/'

const ANNOTATION = 'org.emergence.nix.'
export const ANNOTATIONS = {
  storePath: `${ANNOTATION}store-path`,
  /** Space-separated base names, as narinfo `References:`. */
  references: `${ANNOTATION}references`,
  deriver: `${ANNOTATION}deriver`,
  /** Space-separated `keyName:base64` signatures (they hold no spaces). */
  signatures: `${ANNOTATION}signatures`,
  ca: `${ANNOTATION}ca`
} as const

/** image-spec manifest.md "Guidance for an Empty Descriptor": the config of an artifact that has none. */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}')
export const EMPTY_CONFIG: Descriptor = {
  mediaType: MEDIA_TYPE.ociEmpty,
  digest: digestOf(EMPTY_CONFIG_BYTES),
  size: 2,
  data: EMPTY_CONFIG_BYTES.toString('base64')
}

/** A path record is a few hundred bytes; anything far larger is garbage. */
export const MAX_RECORD_BYTES = 256 * 1024
/** GC parses every index it walks and refuses more than MAX_JSON_BYTES; stay well under. */
export const MAX_CLOSURE_RECORD_BYTES = MAX_JSON_BYTES - 256 * 1024

export interface PathRecord {
  info: PathInfo
  /** The record's own bytes, digest and descriptor (for index.json and closure records). */
  bytes: Uint8Array
  descriptor: Descriptor
  /** The NAR blob: digest = narHash as an OCI digest, size = narSize. */
  nar: { digest: Digest, size: number }
}

export function infoRef (path: StorePath): string {
  return `${NIX_REF_PREFIX}${hashPartOf(path)}:info`
}

export function infoRefOfHashPart (hashPart: string): string {
  return `${NIX_REF_PREFIX}${hashPart}:info`
}

export function closureRef (path: StorePath): string {
  return `${NIX_REF_PREFIX}${hashPartOf(path)}:closure`
}

/** `sha256:<nix32>` -> `sha256:<hex>`: the same 32 bytes, the blob store's spelling. */
export function narDigest (narHash: NixHash): Digest {
  return `sha256:${Buffer.from(nixHashBytes(narHash)).toString('hex')}`
}

export function narHashOfDigest (digest: Digest): NixHash {
  return formatNixHash(Buffer.from(digest.slice('sha256:'.length), 'hex'))
}

const descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().refine(isDigest, 'not a digest'),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  data: z.string().optional(),
  artifactType: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional()
})

const recordSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPE.ociManifest),
  artifactType: z.literal(NIX_PATH_ARTIFACT_TYPE),
  config: descriptor.refine(d => d.mediaType === EMPTY_CONFIG.mediaType && d.digest === EMPTY_CONFIG.digest && d.size === 2, 'config is not the empty descriptor'),
  layers: z.tuple([descriptor.refine(d => d.mediaType === NAR_MEDIA_TYPE && d.digest.startsWith('sha256:') && d.size > 0, 'layer is not a sha256 NAR')]),
  annotations: z.object({
    [ANNOTATIONS.storePath]: z.string(),
    [ANNOTATIONS.references]: z.string(),
    [ANNOTATIONS.deriver]: z.string().optional(),
    [ANNOTATIONS.signatures]: z.string().optional(),
    [ANNOTATIONS.ca]: z.string().optional()
  })
})

const closureSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MEDIA_TYPE.ociIndex),
  artifactType: z.literal(NIX_CLOSURE_ARTIFACT_TYPE),
  manifests: z.array(descriptor.refine(d => d.mediaType === MEDIA_TYPE.ociManifest && d.artifactType === NIX_PATH_ARTIFACT_TYPE, 'entry is not a path record')),
  annotations: z.object({ [ANNOTATIONS.storePath]: z.string() })
})

function recordDescriptor (bytes: Uint8Array): Descriptor {
  return { mediaType: MEDIA_TYPE.ociManifest, artifactType: NIX_PATH_ARTIFACT_TYPE, digest: digestOf(bytes), size: bytes.byteLength }
}

/** The record of `info`; the same info always gives the same bytes (keys in a fixed order, lists sorted). */
export function buildPathRecord (info: PathInfo): PathRecord {
  const nar = { digest: narDigest(info.narHash), size: info.narSize }
  const annotations: Record<string, string> = {
    [ANNOTATIONS.storePath]: info.path,
    [ANNOTATIONS.references]: [...info.references].sort().map(baseNameOf).join(' ')
  }
  if (info.deriver !== undefined) annotations[ANNOTATIONS.deriver] = baseNameOf(info.deriver)
  if (info.sigs.length > 0) annotations[ANNOTATIONS.signatures] = [...new Set(info.sigs)].sort().join(' ')
  if (info.ca !== undefined) annotations[ANNOTATIONS.ca] = info.ca
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    artifactType: NIX_PATH_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers: [{ mediaType: NAR_MEDIA_TYPE, digest: nar.digest, size: nar.size }],
    annotations
  }
  const bytes = Buffer.from(JSON.stringify(manifest))
  return { info: { ...info, references: [...info.references].sort(), sigs: [...new Set(info.sigs)].sort() }, bytes, descriptor: recordDescriptor(bytes), nar }
}

function parseJson (bytes: Uint8Array, limit: number, what: string): unknown {
  if (bytes.byteLength > limit) throw new RecordError(`${what} is ${bytes.byteLength} bytes, over the ${limit}-byte limit`)
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (err) {
    throw new RecordError(`${what} is not JSON`, err)
  }
}

function issue (err: z.ZodError): string {
  const first = err.issues[0]
  return `${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`
}

/** Parses and checks a path record from untrusted bytes; throws RecordError. */
export function parsePathRecord (bytes: Uint8Array): PathRecord {
  const parsed = recordSchema.safeParse(parseJson(bytes, MAX_RECORD_BYTES, 'a path record'))
  if (!parsed.success) throw new RecordError(`malformed path record at ${issue(parsed.error)}`)
  const { annotations, layers: [layer] } = parsed.data
  try {
    const info: PathInfo = {
      path: parseStorePath(annotations[ANNOTATIONS.storePath]).path,
      narHash: narHashOfDigest(layer.digest as Digest),
      narSize: layer.size,
      references: annotations[ANNOTATIONS.references].split(' ').filter(r => r !== '').map(r => parseStoreBaseName(r).path).sort(),
      sigs: (annotations[ANNOTATIONS.signatures] ?? '').split(' ').filter(s => s !== '')
    }
    const deriver = annotations[ANNOTATIONS.deriver]
    if (deriver !== undefined) info.deriver = parseStoreBaseName(deriver).path
    const ca = annotations[ANNOTATIONS.ca]
    if (ca !== undefined) info.ca = ca
    if (info.sigs.some(sig => !/^[^:\s]+:\S+$/.test(sig))) throw new RecordError('a signature is not keyName:base64')
    return { info, bytes, descriptor: recordDescriptor(bytes), nar: { digest: layer.digest as Digest, size: layer.size } }
  } catch (err) {
    if (err instanceof RecordError) throw err
    throw new RecordError(`path record: ${err instanceof Error ? err.message : String(err)}`, err)
  }
}

export interface ClosureRecord {
  root: StorePath
  bytes: Uint8Array
  descriptor: Descriptor
  /** The path records it lists, with their embedded bytes when present. */
  entries: Array<{ path: StorePath, descriptor: Descriptor, bytes?: Uint8Array }>
}

/**
 * The closure record of `root` over `records` (which must hold the root's whole closure). Records are embedded
 * while the index stays under MAX_CLOSURE_RECORD_BYTES, else listed by digest only; undefined when even the
 * list does not fit (the references are then followed one RESOLVE at a time).
 */
export function buildClosureRecord (root: StorePath, records: readonly PathRecord[]): ClosureRecord | undefined {
  const sorted = [...records].sort((a, b) => a.info.path < b.info.path ? -1 : a.info.path > b.info.path ? 1 : 0)
  for (const embed of [true, false]) {
    const manifests = sorted.map(r => ({
      ...r.descriptor,
      ...(embed ? { data: Buffer.from(r.bytes).toString('base64') } : {}),
      annotations: { [ANNOTATIONS.storePath]: r.info.path }
    }))
    const index = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, artifactType: NIX_CLOSURE_ARTIFACT_TYPE, manifests, annotations: { [ANNOTATIONS.storePath]: root } }
    const bytes = Buffer.from(JSON.stringify(index))
    if (bytes.byteLength > MAX_CLOSURE_RECORD_BYTES) continue
    const descriptor = { mediaType: MEDIA_TYPE.ociIndex, artifactType: NIX_CLOSURE_ARTIFACT_TYPE, digest: digestOf(bytes), size: bytes.byteLength }
    return { root, bytes, descriptor, entries: sorted.map(r => ({ path: r.info.path, descriptor: r.descriptor, bytes: r.bytes })) }
  }
  return undefined
}

/** Parses a closure record from untrusted bytes; embedded records are checked against their digests. */
export function parseClosureRecord (bytes: Uint8Array): ClosureRecord {
  const parsed = closureSchema.safeParse(parseJson(bytes, MAX_CLOSURE_RECORD_BYTES, 'a closure record'))
  if (!parsed.success) throw new RecordError(`malformed closure record at ${issue(parsed.error)}`)
  const entries: ClosureRecord['entries'] = []
  for (const m of parsed.data.manifests) {
    const path = m.annotations?.[ANNOTATIONS.storePath]
    if (path === undefined) throw new RecordError('a closure record entry names no store path')
    const { data, ...rest } = m
    const entry: ClosureRecord['entries'][number] = { path: parseStorePath(path).path, descriptor: { ...rest, digest: rest.digest as Digest } }
    if (data !== undefined) {
      const embedded = Buffer.from(data, 'base64')
      if (digestOf(embedded) !== m.digest || embedded.byteLength !== m.size) throw new RecordError(`the embedded record of ${path} does not match its digest`)
      entry.bytes = embedded
    }
    entries.push(entry)
  }
  const root = parseStorePath(parsed.data.annotations[ANNOTATIONS.storePath]).path
  return { root, bytes, descriptor: { mediaType: MEDIA_TYPE.ociIndex, artifactType: NIX_CLOSURE_ARTIFACT_TYPE, digest: digestOf(bytes), size: bytes.byteLength }, entries }
}

/**
 * Checks that `records` are the closure of `root`: the root is there, every reference of every record is there
 * (a record may name itself), and each record is for the path it was listed under. Returns them dependencies first.
 */
export function checkClosure (root: StorePath, records: readonly PathRecord[]): PathRecord[] {
  const byPath = new Map(records.map(r => [r.info.path, r]))
  if (!byPath.has(root)) throw new RecordError(`the closure record of ${root} does not hold ${root}`)
  for (const record of records) {
    const missing = record.info.references.find(ref => !byPath.has(ref))
    if (missing !== undefined) throw new RecordError(`the closure of ${root} is incomplete: ${record.info.path} refers to ${missing}, which it lacks`)
  }
  return sortRecords(records)
}

/** Records ordered dependencies first (references outside the list are ignored). */
export function sortRecords (records: readonly PathRecord[]): PathRecord[] {
  return sortByDependencies(records.map(record => ({ record, path: record.info.path, references: record.info.references }))).map(r => r.record)
}

export function isNixRef (ref: string): boolean {
  return ref.startsWith(NIX_REF_PREFIX)
}
