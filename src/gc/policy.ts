/**
 * Which images the automatic GC evicts (docs/operations.md "Automatic GC"): least recently used first, never a
 * protected one, and no more than it takes to free `needed` bytes. Pure: the pass (pass.ts) gathers the inputs
 * from the store and applies the result.
 *
 * A blob is freed only when no image left in the store reaches it (nor a pin), so the bytes an eviction frees are
 * counted with a reference count per blob: evicting an image whose layers another image shares frees only what is
 * its own. After the LRU walk, images whose eviction turned out not to be needed (they freed nothing, or the
 * target is met without them) are kept, most recently used first.
 */

export interface GcCandidate {
  /** The image's root (manifest or index) digest: what its refs point at. */
  digest: string
  /** Every ref (tag) that points at it; all go together. */
  refs: string[]
  /** Last use, ms since the epoch (usage.ts). */
  lastUsed: number
  /** Every blob the image reaches, its root included. */
  blobs: ReadonlySet<string>
  /** Pinned, needed by an automaton or a container, or in the desired set: never evicted. */
  protected: boolean
}

export interface SelectionInput {
  candidates: readonly GcCandidate[]
  /** Size of each blob in bytes; a blob with no size counts as 0. */
  sizes: ReadonlyMap<string, number>
  /** Blobs kept whatever happens to the images (reachable from pins). */
  retained: ReadonlySet<string>
  /** Bytes to free. */
  needed: number
}

export interface Selection {
  /** The images to evict, least recently used first. */
  evict: GcCandidate[]
  /** Bytes their eviction frees (the blobs only they reached). */
  freedBytes: number
}

/** LRU order: oldest use first; the digest breaks ties so that the order is the same on every run. */
function lruOrder (a: GcCandidate, b: GcCandidate): number {
  return a.lastUsed - b.lastUsed || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)
}

export function selectEvictions (input: SelectionInput): Selection {
  const size = (blob: string): number => input.sizes.get(blob) ?? 0
  const users = new Map<string, number>()
  for (const candidate of input.candidates) {
    for (const blob of candidate.blobs) users.set(blob, (users.get(blob) ?? 0) + 1)
  }
  for (const blob of input.retained) users.set(blob, (users.get(blob) ?? 0) + 1)

  const chosen: GcCandidate[] = []
  let freed = 0
  for (const candidate of input.candidates.filter(c => !c.protected).sort(lruOrder)) {
    if (freed >= input.needed) break
    chosen.push(candidate)
    for (const blob of candidate.blobs) {
      const left = (users.get(blob) ?? 1) - 1
      users.set(blob, left)
      if (left === 0) freed += size(blob)
    }
  }

  // Keep back what the target does not need, newest first: putting an image back un-frees the blobs that only
  // the evicted images reached (user count 0) among its own.
  const evict = new Set(chosen)
  for (const candidate of [...chosen].reverse()) {
    let loss = 0
    for (const blob of candidate.blobs) if (users.get(blob) === 0) loss += size(blob)
    if (loss > 0 && freed - loss < input.needed) continue
    evict.delete(candidate)
    freed -= loss
    for (const blob of candidate.blobs) users.set(blob, (users.get(blob) ?? 0) + 1)
  }
  return { evict: chosen.filter(c => evict.has(c)), freedBytes: freed }
}
