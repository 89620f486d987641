/**
 * What the store holds, as the eviction policy (policy.ts) sees it: its blobs and their sizes, and one candidate
 * per image root (a manifest or index that refs point at, Nix records included) with the blobs it reaches and
 * its last use. Reads every manifest once; blobs are stat'ed, never read.
 */
import { stat } from 'node:fs/promises'
import type { Digest } from '../oci/digest.ts'
import { walkImage } from '../oci/walk.ts'
import { pinRoots } from '../store/gc.ts'
import type { Store } from '../store/store.ts'
import type { GcCandidate } from './policy.ts'
import { readUsage } from './usage.ts'

export interface StoreInventory {
  /** Size of every blob in `blobs/`. */
  sizes: Map<Digest, number>
  /** Sum of `sizes`. */
  storeBytes: number
  /** One per root digest that refs point at, `protected` false (protect.ts decides). */
  candidates: GcCandidate[]
  /** Blobs reachable from pins. */
  pinned: Set<Digest>
  /** Per candidate: the manifests and indexes it reaches (what a container record or an automaton names). */
  documents: Map<string, Set<Digest>>
}

/** Sizes of every blob of the store, and their sum. */
export async function blobSizes (store: Store): Promise<{ sizes: Map<Digest, number>, storeBytes: number }> {
  const sizes = new Map<Digest, number>()
  let storeBytes = 0
  for await (const digest of store.blobs.list()) {
    const info = await stat(store.paths.blob(digest)).catch(() => undefined)
    if (info === undefined) continue
    sizes.set(digest, info.size)
    storeBytes += info.size
  }
  return { sizes, storeBytes }
}

export async function takeInventory (store: Store): Promise<StoreInventory> {
  const { sizes, storeBytes } = await blobSizes(store)
  const read = async (d: { digest: Digest }): Promise<Uint8Array> => await store.blobs.readBytes(d.digest)
  const usage = await readUsage(store)
  const byRoot = new Map<Digest, { descriptor: Parameters<typeof walkImage>[0][number], refs: string[] }>()
  for (const { ref, descriptor } of await store.refs.list()) {
    const entry = byRoot.get(descriptor.digest) ?? { descriptor, refs: [] }
    entry.refs.push(ref)
    byRoot.set(descriptor.digest, entry)
  }
  const candidates: GcCandidate[] = []
  const documents = new Map<string, Set<Digest>>()
  for (const [digest, { descriptor, refs }] of byRoot) {
    const docs = new Set<Digest>()
    const blobs = await walkImage([descriptor], async d => { docs.add(d.digest); return await read(d) }, { onMissing: () => 'skip' })
    documents.set(digest, docs)
    const written = await stat(store.paths.blob(digest)).then(info => info.mtimeMs, () => 0)
    candidates.push({ digest, refs: refs.sort(), lastUsed: usage.get(digest) ?? written, blobs, protected: false })
  }
  const pinned = await walkImage(await pinRoots(store), read, { onMissing: () => 'skip' })
  return { sizes, storeBytes, candidates, pinned, documents }
}
