/**
 * Reads an image archive (a tar of an OCI layout, or a `docker save` tar) entry by entry. Blob-sized entries go
 * straight into the store, verified (entries named `blobs/<alg>/<hex>`) or hashed (legacy `<id>/layer.tar`);
 * small metadata files are kept in memory. Names that could leave the archive's namespace are refused.
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import { posix } from 'node:path'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import type { Extract } from 'tar-stream'
import { isDigest, type Digest } from '../oci/digest.ts'
import { MAX_JSON_BYTES } from '../oci/types.ts'
import type { Store } from '../store/store.ts'
import { EmergenceError } from '../util/errors.ts'
import { HostileArchiveEntryError, InvalidImageSourceError } from './errors.ts'
import type { ImportTransaction } from './transaction.ts'

/** One entry of the tar stream: its header and a readable of its bytes. */
type Entry = Extract extends AsyncIterable<infer E> ? E : never

export interface ArchiveContents {
  /** Small files by normalised name (oci-layout, index.json, manifest.json, configs, ...). */
  files: Map<string, Buffer>
  /** Entries stored as blobs, by normalised name. */
  blobs: Map<string, { digest: Digest, size: number }>
  /** Symbolic and hard links between entries, by normalised name -> normalised target. */
  links: Map<string, string>
}

/** `./a/b` -> `a/b`; refuses absolute names, `..`, NUL and empty names. */
export function normaliseEntryName (name: string): string {
  if (name.includes('\0')) throw new HostileArchiveEntryError(name, 'the name holds a NUL byte')
  if (name.startsWith('/')) throw new HostileArchiveEntryError(name, 'absolute names are not allowed')
  const parts = name.split('/').filter(p => p !== '' && p !== '.')
  if (parts.includes('..')) throw new HostileArchiveEntryError(name, '".." is not allowed in names')
  return parts.join('/')
}

/** The entry a link points at, within the archive: relative to the link's directory, never above the root. */
function linkTarget (name: string, target: string, hard: boolean): string {
  if (target.startsWith('/')) throw new HostileArchiveEntryError(name, `link to absolute path ${target}`)
  const joined = posix.normalize(hard ? target : posix.join(posix.dirname(name), target))
  if (joined === '..' || joined.startsWith('../')) throw new HostileArchiveEntryError(name, `link ${target} points outside the archive`)
  return normaliseEntryName(joined)
}

/** Resolves a name through links (at most 16 hops). */
export function resolveEntry (contents: ArchiveContents, name: string): string {
  let current = normaliseEntryName(name)
  for (let hops = 0; hops < 16; hops++) {
    const next = contents.links.get(current)
    if (next === undefined) return current
    current = next
  }
  throw new InvalidImageSourceError(`archive entry ${name}: too many links`)
}

async function isGzip (file: string): Promise<boolean> {
  const handle = await open(file, 'r')
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0)
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b
  } finally {
    await handle.close()
  }
}

async function readSmall (entry: AsyncIterable<Buffer>, name: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of entry) {
    size += chunk.byteLength
    if (size > MAX_JSON_BYTES) throw new InvalidImageSourceError(`archive entry ${name} is too large for a metadata file`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** True for names whose content is metadata to keep in memory rather than a blob. */
function isMetadataName (name: string, size: number): boolean {
  if (size > MAX_JSON_BYTES) return false
  return name === 'oci-layout' || name === 'repositories' || name.endsWith('.json') || name.endsWith('/json') || name.endsWith('/VERSION')
}

export async function readArchive (store: Store, file: string, tx: ImportTransaction, signal?: AbortSignal): Promise<ArchiveContents> {
  const contents: ArchiveContents = { files: new Map(), blobs: new Map(), links: new Map() }
  const extract = tar.extract()
  // Sniff before opening the stream: a stream opened first would emit an unhandled 'error' if the file is absent.
  const gzip = await isGzip(file)
  const stages = [createReadStream(file, { highWaterMark: 1024 * 1024 }), ...(gzip ? [createGunzip()] : []), extract] as const
  const feeding = pipeline(stages, signal !== undefined ? { signal } : {})
  let failure: unknown
  feeding.catch((err: unknown) => { failure ??= err })
  try {
    for await (const entry of extract) {
      await readEntry(store, contents, tx, entry, signal)
    }
  } catch (err) {
    extract.destroy()
    const cause = failure ?? err
    // Our own typed errors, aborts and system errors (ENOSPC, EACCES) pass through; anything else came from the
    // tar or gzip parser reading something that is not a well-formed archive.
    if (cause instanceof EmergenceError || signal?.aborted === true || (cause as NodeJS.ErrnoException).syscall !== undefined) throw cause
    throw new InvalidImageSourceError(`${file} is not a readable tar archive`, cause)
  }
  await feeding.catch(err => { throw new InvalidImageSourceError(`${file} is not a readable tar archive`, err) })
  return contents
}

async function readEntry (store: Store, contents: ArchiveContents, tx: ImportTransaction, entry: Entry, signal?: AbortSignal): Promise<void> {
  const { header } = entry
  const name = normaliseEntryName(header.name)
  const size = header.size
  // streamx readables iterate as chunks of bytes at run time; the package's types do not say so.
  const bytes = entry as unknown as AsyncIterable<Buffer>
  switch (header.type) {
    case 'directory':
      break
    case 'symlink':
    case 'link':
      contents.links.set(name, linkTarget(name, header.linkname, header.type === 'link'))
      break
    case 'file':
    case 'contiguous-file': {
      const named = name.match(/^blobs\/(sha256|sha512)\/([a-f0-9]+)$/)
      const digest = named !== null ? `${named[1]}:${named[2]}` : undefined
      if (named !== null && !isDigest(digest)) throw new InvalidImageSourceError(`archive entry ${name} is not named by a valid digest`)
      if (digest !== undefined && isDigest(digest)) {
        const info = await tx.blob(digest, async lease => await store.blobs.write(digest, bytes, { size, lease, ...(signal !== undefined ? { signal } : {}) }))
        contents.blobs.set(name, info)
      } else if (isMetadataName(name, size)) {
        contents.files.set(name, await readSmall(bytes, name))
      } else {
        contents.blobs.set(name, await tx.blob(undefined, async lease => await store.blobs.add(bytes, { lease, ...(signal !== undefined ? { signal } : {}) })))
      }
      break
    }
    default:
      throw new HostileArchiveEntryError(header.name, `unexpected ${header.type} entry in an image archive`)
  }
  // Whatever was not consumed above must still be drained for the next entry to arrive.
  entry.resume()
}
