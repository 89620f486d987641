/**
 * What Nix knows about a valid store path (its ValidPathInfo), with full store paths throughout. The narinfo,
 * the signature fingerprint, the binary cache and the import all speak this one shape.
 */
import { ReferenceCycleError } from './errors.ts'
import type { NixHash } from './hash.ts'
import type { StorePath } from './store-path.ts'

export interface PathInfo {
  path: StorePath
  narHash: NixHash
  narSize: number
  /** Full store paths this path refers to (possibly itself), sorted. */
  references: StorePath[]
  deriver?: StorePath
  /** `keyName:base64(signature)` entries, as in narinfo `Sig:` lines. */
  sigs: string[]
  /** Content address (`fixed:...`, `text:...`) when the path is content-addressed. */
  ca?: string
}

/**
 * Orders path infos so that every path comes after the paths it refers to (dependencies first), as
 * `nix-store --import` and `--register-validity` need. References outside `infos` are ignored; ties are broken
 * by path so the order is deterministic. A reference cycle (impossible in a real store) throws.
 */
export function sortByDependencies<T extends Pick<PathInfo, 'path' | 'references'>> (infos: readonly T[]): T[] {
  const byPath = new Map(infos.map(info => [info.path, info]))
  const state = new Map<string, 'visiting' | 'done'>()
  const out: T[] = []
  const trail: string[] = []
  const visit = (info: T): void => {
    const seen = state.get(info.path)
    if (seen === 'done') return
    if (seen === 'visiting') throw new ReferenceCycleError([...trail, info.path])
    state.set(info.path, 'visiting')
    trail.push(info.path)
    for (const ref of [...info.references].sort()) {
      const dep = byPath.get(ref)
      if (dep !== undefined && ref !== info.path) visit(dep)
    }
    trail.pop()
    state.set(info.path, 'done')
    out.push(info)
  }
  for (const info of [...infos].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) visit(info)
  return out
}
