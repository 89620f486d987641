/**
 * The stream `nix-store --export` writes and `nix-store --import` reads (docs/formats.md "nix-store --export"): per path
 * `u64 1, NAR, u64 0x4558494e ("NIXE"), str(path), u64 n, str(ref) x n, str(deriver or ""), u64 0`, and a final
 * `u64 0`. Paths must come dependencies first. Each NAR is checked against its narHash and narSize while it streams
 * (unless its source checks it, `verified`):
 * on a mismatch the stream throws before that path's trailer, and Nix, which registers a path only once its
 * trailer is read, never sees it complete.
 */
import { narString, u64 } from './nar-format.ts'
import { verifyNarStream } from './nar-hash.ts'
import type { PathInfo } from './path-info.ts'

export const EXPORT_MAGIC = 0x4558494e

export interface ExportItem {
  info: PathInfo
  /**
   * Opens the NAR of `info.path`; called once, when the item's turn comes. Every import writes out or copies a
   * chunk before it asks for the next, so the source may reuse one buffer for all its chunks.
   */
  nar: () => AsyncIterable<Uint8Array>
  /**
   * `nar()` checks the bytes against narHash and narSize itself (or yields bytes this process has just verified
   * against them): the stream does not hash them again.
   */
  verified?: boolean
}

function trailer (info: PathInfo): Buffer {
  return Buffer.concat([
    u64(EXPORT_MAGIC),
    narString(info.path),
    u64(info.references.length),
    ...[...info.references].sort().map(ref => narString(ref)),
    narString(info.deriver ?? ''),
    u64(0)
  ])
}

/** The export stream of `items`, in the order given (callers sort them with `sortByDependencies`). */
export async function * exportStream (items: Iterable<ExportItem>): AsyncGenerator<Uint8Array> {
  for (const item of items) {
    yield u64(1)
    yield * (item.verified === true ? item.nar() : verifyNarStream(item.nar(), item.info))
    yield trailer(item.info)
  }
  yield u64(0)
}
