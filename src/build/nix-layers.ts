/**
 * Which store paths of a closure share a layer (the rule of nixpkgs' dockerTools.buildLayeredImage, on its
 * "popularity" of paths). A path's popularity is the number of closure paths that depend on it, itself included
 * (a library every other path needs is more popular than the program at the top). Paths are ordered by
 * popularity, most popular first, ties by path. With at most `maxLayers` paths, each gets its own layer; past
 * that, the `maxLayers - 1` most popular keep their own layers and all the others share the last one. So the
 * paths most likely to appear in other images are the ones whose layer blobs are shared between images.
 */
export interface ClosureNode {
  path: string
  /** Store paths this path refers to (self-references are ignored). */
  references: readonly string[]
}

/** Docker and containerd accept up to ~127 layers; dockerTools defaults to 100 as well. */
export const DEFAULT_MAX_LAYERS = 100

/** path -> how many closure paths (itself included) have it in their closure. */
export function popularity (nodes: readonly ClosureNode[]): Map<string, number> {
  const byPath = new Map(nodes.map(n => [n.path, n]))
  const closures = new Map<string, Set<string>>()
  const closureOf = (path: string): Set<string> => {
    const known = closures.get(path)
    if (known !== undefined) return known
    const out = new Set<string>([path])
    closures.set(path, out)
    for (const ref of byPath.get(path)?.references ?? []) {
      if (ref === path || !byPath.has(ref)) continue
      for (const p of closureOf(ref)) out.add(p)
    }
    return out
  }
  const counts = new Map(nodes.map(n => [n.path, 0]))
  for (const node of nodes) for (const p of closureOf(node.path)) counts.set(p, (counts.get(p) ?? 0) + 1)
  return counts
}

/** The layers of a closure: each a list of store paths (sorted), most popular first. */
export function groupLayers (nodes: readonly ClosureNode[], maxLayers = DEFAULT_MAX_LAYERS): string[][] {
  if (!Number.isInteger(maxLayers) || maxLayers < 1) throw new RangeError('maxLayers must be an integer of 1 or more')
  const counts = popularity(nodes)
  const ordered = [...counts.keys()].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0))
  if (ordered.length <= maxLayers) return ordered.map(p => [p])
  const own = ordered.slice(0, maxLayers - 1).map(p => [p])
  return [...own, ordered.slice(maxLayers - 1).sort()]
}
