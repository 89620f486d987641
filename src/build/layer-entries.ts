/**
 * The entries of one stored layer, in tar order (docs/formats.md "OCI layers"): blob file -> digest and size check ->
 * decompression by media type -> diff_id check -> tar parser. Both checks end with the
 * stream, so a mismatch fails the read after its entries were seen: squash reads every layer twice and keeps
 * what it wrote only when every read ended verified.
 */
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { extract as createExtract, type Header } from 'tar-stream'
import { digestAlgorithm, type Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import { HashingCounter } from '../store/blob-store.ts'
import type { Store } from '../store/store.ts'
import { DiffIdMismatchError, InvalidLayerError, LayerDigestMismatchError } from '../runner/errors.ts'
import { decompressor } from '../runner/layer-stream.ts'

/** Called for each entry; `body` may be read or left (the rest is skipped). `index` counts entries from 0. */
export type EntryVisitor = (header: Header, body: AsyncIterable<Uint8Array>, index: number) => Promise<void>

/** Calls `visit` for every entry of the stored `layer`, whose uncompressed tar must hash to `diffId`. */
export async function readLayerEntries (store: Store, layer: Descriptor, diffId: Digest, visit: EntryVisitor): Promise<void> {
  const compressed = new HashingCounter(digestAlgorithm(layer.digest), layer.size, actual => new LayerDigestMismatchError(`${layer.digest} (${layer.size} bytes)`, `${actual} bytes or more`))
  const uncompressed = new HashingCounter(digestAlgorithm(diffId), undefined, () => new Error('unreachable'))
  const extract = createExtract()
  const abort = new AbortController()
  const feeding = pipeline([createReadStream(store.paths.blob(layer.digest)), compressed, decompressor(layer), uncompressed, extract], { signal: abort.signal })
  // A failure of the feeding side is reported once, below, not as unhandled while the entries are visited.
  feeding.catch(() => {})
  try {
    let index = 0
    for await (const entry of extract) {
      const body = entry as AsyncIterable<Uint8Array>
      await visit(entry.header, body, index++)
      for await (const _chunk of body) { /* skip what the visitor did not read */ }
    }
    await feeding
  } catch (err) {
    abort.abort(err)
    await feeding.catch(() => {})
    if (err instanceof Error && err.name === 'Error') throw new InvalidLayerError(layer.digest, `cannot read the layer: ${err.message}`, err)
    throw err
  }
  const actual = `${digestAlgorithm(layer.digest)}:${compressed.hash.digest('hex')}`
  if (actual !== layer.digest || compressed.bytes !== layer.size) {
    throw new LayerDigestMismatchError(`${layer.digest} (${layer.size} bytes)`, `${actual} (${compressed.bytes} bytes)`)
  }
  const diff = `${digestAlgorithm(diffId)}:${uncompressed.hash.digest('hex')}`
  if (diff !== diffId) throw new DiffIdMismatchError(layer.digest, diffId, diff)
}
