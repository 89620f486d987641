/**
 * Path records and closure records in the node's OCI store: written as verified blobs, named by refs
 * (`nix/<hashPart>:info`, `nix/<hashPart>:closure`). Refs are written last, once the blobs they reach are held, so
 * `store verify` never finds a ref whose NAR is missing.
 */
import { digestOf, type Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import type { Lease } from '../store/leases.ts'
import type { Store } from '../store/store.ts'
import {
  EMPTY_CONFIG, EMPTY_CONFIG_BYTES, NIX_CLOSURE_ARTIFACT_TYPE, NIX_PATH_ARTIFACT_TYPE, infoRefOfHashPart, isNixRef,
  parsePathRecord, type PathRecord
} from './path-record.ts'

/** Writes `bytes` as a blob under `lease` unless the store has it (a small JSON document held in memory). */
export async function putSmallBlob (store: Store, bytes: Uint8Array, lease?: Lease): Promise<Digest> {
  const digest = digestOf(bytes)
  if (await store.blobs.has(digest)) {
    await lease?.add(digest)
    return digest
  }
  await store.blobs.write(digest, [bytes], { size: bytes.byteLength, ...(lease !== undefined ? { lease } : {}) })
  return digest
}

/** The empty config every record names (its bytes are known, so it never travels). */
export async function ensureEmptyConfig (store: Store, lease?: Lease): Promise<Digest> {
  await putSmallBlob(store, EMPTY_CONFIG_BYTES, lease)
  return EMPTY_CONFIG.digest
}

/** The record this store holds for the path with `hashPart`, or undefined (no ref, or its blob is gone). */
export async function readLocalRecord (store: Store, hashPart: string): Promise<PathRecord | undefined> {
  const descriptor = await store.refs.get(infoRefOfHashPart(hashPart))
  if (descriptor === undefined) return undefined
  let bytes: Uint8Array
  try {
    bytes = await store.blobs.readBytes(descriptor.digest)
  } catch {
    return undefined
  }
  return parsePathRecord(bytes)
}

export interface NixRefEntry {
  ref: string
  kind: 'path' | 'closure'
  /** The store path the ref's hash part names (from the ref's descriptor annotation when present). */
  hashPart: string
  descriptor: Descriptor
}

/** The Nix refs of the store (`nix/...`), paths and closures. */
export async function listNixRefs (store: Store): Promise<NixRefEntry[]> {
  const out: NixRefEntry[] = []
  for (const { ref, descriptor } of await store.refs.list()) {
    if (!isNixRef(ref)) continue
    const match = /^nix\/([0-9a-z]{32}):(info|closure)$/.exec(ref)
    if (match?.[1] === undefined) continue
    const kind = match[2] === 'closure' ? 'closure' : 'path'
    if (descriptor.artifactType !== undefined && descriptor.artifactType !== (kind === 'path' ? NIX_PATH_ARTIFACT_TYPE : NIX_CLOSURE_ARTIFACT_TYPE)) continue
    out.push({ ref, kind, hashPart: match[1], descriptor })
  }
  return out
}
