/**
 * One layer blob: a tar written by `fill` into a tar-stream pack -> diff_id hashed (docs/formats.md "OCI layers": the
 * sha256 of the uncompressed tar) -> deterministic compression -> the store's verified blob write, under the
 * build's transaction lease. Compression settings are fixed, so the same tar gives the same blob: gzip at level 6
 * with node:zlib's header (no file name, mtime 0), zstd at level 3 on one thread.
 */
import { pipeline } from 'node:stream/promises'
import { constants, createGzip, createZstdCompress, type Gzip, type ZstdCompress } from 'node:zlib'
import { pack as createPack, type Pack } from 'tar-stream'
import { MEDIA_TYPE } from '../oci/media-types.ts'
import type { Digest } from '../oci/digest.ts'
import type { Descriptor } from '../oci/types.ts'
import { HashingCounter } from '../store/blob-store.ts'
import type { Store } from '../store/store.ts'
import type { ImportTransaction } from '../image/transaction.ts'

export type LayerCompression = 'gzip' | 'zstd'

export const DEFAULT_COMPRESSION: LayerCompression = 'gzip'
export const GZIP_LEVEL = 6
export const ZSTD_LEVEL = 3

export interface WrittenLayer {
  descriptor: Descriptor
  diffId: Digest
}

/** Compressor output chunks: larger than zlib's 16 KiB default, so fewer buffers pass through to the store. */
const CHUNK_SIZE = 256 * 1024

function compressor (compression: LayerCompression): Gzip | ZstdCompress {
  if (compression === 'gzip') return createGzip({ level: GZIP_LEVEL, chunkSize: CHUNK_SIZE })
  return createZstdCompress({ chunkSize: CHUNK_SIZE, params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL, [constants.ZSTD_c_nbWorkers]: 0 } })
}

/** Writes the layer that `fill` produces into the store; `fill` adds entries and returns (the pack is finalized here). */
export async function writeLayer (store: Store, tx: ImportTransaction, compression: LayerCompression, fill: (pack: Pack) => Promise<void>): Promise<WrittenLayer> {
  const pack = createPack()
  const diff = new HashingCounter('sha256', undefined, () => new Error('unreachable'))
  const filling = fill(pack).then(() => { pack.finalize() }, (err: unknown) => {
    pack.destroy(err as Error)
    throw err
  })
  let written: { digest: Digest, size: number } | undefined
  const storing = pipeline(pack, diff, compressor(compression), async (source: AsyncIterable<Uint8Array>) => {
    written = await tx.blob(undefined, async lease => await store.blobs.add(source, { lease }))
  })
  // The fill's own error is the one to report; the pipeline then fails only because the pack was destroyed.
  const [filled, stored] = await Promise.allSettled([filling, storing])
  if (filled.status === 'rejected') throw filled.reason
  if (stored.status === 'rejected') throw stored.reason
  if (written === undefined) throw new Error('the layer was not written')
  const mediaType = compression === 'gzip' ? MEDIA_TYPE.ociLayerGzip : MEDIA_TYPE.ociLayerZstd
  return { descriptor: { mediaType, digest: written.digest, size: written.size }, diffId: `sha256:${diff.hash.digest('hex')}` }
}
