/**
 * A tar file as layer entries: the archive (plain, gzip or zstd, told by its magic bytes) is read entry by entry
 * and written again with names cleaned and put under the destination, owner and mtime set by the build, modes
 * and link targets kept. Entry order is the archive's own, so the same archive gives the same layer.
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { PassThrough, type Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createZstdDecompress } from 'node:zlib'
import { extract as createExtract, type Pack } from 'tar-stream'
import { cleanEntryName } from '../runner/secure-join.ts'
import { BuildSourceError } from './errors.ts'
import { putEntry, underDest, type EntryStamp } from './pack-entries.ts'

async function decompressorFor (file: string): Promise<Transform> {
  const handle = await open(file, 'r')
  const magic = Buffer.alloc(4)
  try {
    await handle.read(magic, 0, 4, 0)
  } finally {
    await handle.close()
  }
  if (magic[0] === 0x1f && magic[1] === 0x8b) return createGunzip()
  if (magic.readUInt32LE(0) === 0xfd2fb528) return createZstdDecompress()
  return new PassThrough()
}

/** Adds every entry of the tar `file` under `dest`. */
export async function packTar (pack: Pack, file: string, dest: string, stamp: EntryStamp): Promise<void> {
  const extract = createExtract()
  const feeding = pipeline(createReadStream(file), await decompressorFor(file), extract)
  feeding.catch(() => {})
  try {
    for await (const entry of extract) {
      const { header } = entry
      const rel = cleanEntryName(header.name)
      if (rel === '') {
        for await (const _chunk of entry) { /* the archive's root: the destination's own entry stands for it */ }
        continue
      }
      const name = underDest(dest, rel)
      const common = { mode: header.mode & 0o7777, uid: stamp.owner.uid, gid: stamp.owner.gid, mtime: stamp.mtime }
      switch (header.type) {
        case 'file':
        case 'contiguous-file':
          await putEntry(pack, { ...common, name, type: 'file', size: header.size }, entry as AsyncIterable<Uint8Array>)
          break
        case 'directory':
          await putEntry(pack, { ...common, name: name + '/', type: 'directory' })
          break
        case 'symlink':
          await putEntry(pack, { ...common, name, type: 'symlink', linkname: header.linkname ?? '' })
          break
        case 'link':
          await putEntry(pack, { ...common, name, type: 'link', linkname: underDest(dest, cleanEntryName(header.linkname ?? '')) })
          break
        case 'fifo':
        case 'character-device':
        case 'block-device':
          await putEntry(pack, { ...common, name, type: header.type, devmajor: header.devmajor ?? 0, devminor: header.devminor ?? 0 })
          break
        default:
          throw new BuildSourceError(`${file}: entry ${JSON.stringify(header.name)} has an unsupported type ${String(header.type)}`)
      }
      for await (const _chunk of entry) { /* drain what putEntry did not read */ }
    }
    await feeding
  } catch (err) {
    extract.destroy()
    await feeding.catch(() => {})
    if (err instanceof BuildSourceError) throw err
    throw new BuildSourceError(`${file} is not a readable tar archive: ${err instanceof Error ? err.message : String(err)}`, err)
  }
}
