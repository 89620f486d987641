/**
 * Chain ids (docs/formats.md "Chain ids"): the id of a stack of layers, so that one unpacked
 * layer directory serves every image whose layers up to it are the same. ChainID(L0) = DiffID(L0);
 * ChainID(L0..Ln) = sha256 of the string "ChainID(L0..Ln-1) DiffID(Ln)".
 */
import { digestHex, digestOf, type Digest } from '../../oci/digest.ts'

/** The chain id of every prefix of `diffIds` (bottom layer first). */
export function chainIds (diffIds: readonly Digest[]): Digest[] {
  const chains: Digest[] = []
  for (const diffId of diffIds) {
    const parent = chains.at(-1)
    chains.push(parent === undefined ? diffId : digestOf(`${parent} ${diffId}`, 'sha256'))
  }
  return chains
}

/**
 * The directory name of a chain id: its hex alone. A colon would split overlayfs's `lowerdir=` list, and
 * every chain id here is a sha256 (the first is a diff_id, the rest are computed).
 */
export function chainDirName (chainId: Digest): string {
  return digestHex(chainId)
}
