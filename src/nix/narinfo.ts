/**
 * `.narinfo` documents (docs/formats.md "narinfo and signatures"; Nix's nar-info.cc): `Key: value` lines with StorePath, URL, Compression
 * (bzip2 when absent), FileHash, FileSize, NarHash, NarSize, References (space-separated base names), Deriver,
 * Sig (repeats) and CA. We parse strictly (required fields, valid paths and hashes, no repeated single-valued keys)
 * but skip unknown keys, as Nix does. Store paths are full paths in the parsed form.
 */
import { NarInfoError } from './errors.ts'
import { parseNixHash } from './hash.ts'
import type { NixHash } from './hash.ts'
import type { PathInfo } from './path-info.ts'
import { baseNameOf, parseStoreBaseName, parseStorePath } from './store-path.ts'

export interface NarInfo extends PathInfo {
  /** Where the (possibly compressed) NAR is, relative to the cache root, e.g. `nar/<hash>.nar`. */
  url: string
  compression: string
  fileHash?: NixHash
  fileSize?: number
}

export const NARINFO_CONTENT_TYPE = 'text/x-nix-narinfo'

const SINGLE_KEYS = new Set(['StorePath', 'URL', 'Compression', 'FileHash', 'FileSize', 'NarHash', 'NarSize', 'References', 'Deriver', 'CA'])

function wrap<T> (what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw new NarInfoError(`${what}: ${err instanceof Error ? err.message : String(err)}`)
  }
}

function parseSize (key: string, value: string): number {
  const n = Number(value)
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(n)) throw new NarInfoError(`${key} '${value}' is not a size`)
  return n
}

function fields (text: string): Map<string, string[]> {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n')
  const out = new Map<string, string[]>()
  for (const line of lines) {
    const colon = line.indexOf(': ')
    if (colon <= 0) throw new NarInfoError(`line '${line.slice(0, 80)}' is not 'Key: value'`)
    const key = line.slice(0, colon)
    const values = out.get(key) ?? []
    if (values.length > 0 && SINGLE_KEYS.has(key)) throw new NarInfoError(`${key} appears twice`)
    values.push(line.slice(colon + 2))
    out.set(key, values)
  }
  return out
}

/** Parses a narinfo document; throws NarInfoError on anything malformed or missing. */
export function parseNarInfo (text: string): NarInfo {
  const map = fields(text)
  const get = (key: string): string | undefined => map.get(key)?.[0]
  const required = (key: string): string => {
    const value = get(key)
    if (value === undefined || value === '') throw new NarInfoError(`${key} is missing`)
    return value
  }
  const path = wrap('StorePath', () => parseStorePath(required('StorePath')).path)
  const narSize = parseSize('NarSize', required('NarSize'))
  if (narSize === 0) throw new NarInfoError('NarSize is 0')
  const info: NarInfo = {
    path,
    url: required('URL'),
    compression: get('Compression') ?? 'bzip2',
    narHash: wrap('NarHash', () => parseNixHash(required('NarHash'))),
    narSize,
    references: wrap('References', () => (get('References') ?? '').split(' ').filter(r => r !== '')
      .map(r => parseStoreBaseName(r).path).sort()),
    sigs: map.get('Sig') ?? []
  }
  const fileHash = get('FileHash')
  if (fileHash !== undefined) info.fileHash = wrap('FileHash', () => parseNixHash(fileHash))
  const fileSize = get('FileSize')
  if (fileSize !== undefined) info.fileSize = parseSize('FileSize', fileSize)
  const deriver = get('Deriver')
  if (deriver !== undefined && deriver !== 'unknown-deriver') info.deriver = wrap('Deriver', () => parseStoreBaseName(deriver).path)
  const ca = get('CA')
  if (ca !== undefined && ca !== '') info.ca = ca
  if (info.sigs.some(sig => !/^[^:\s]+:\S+$/.test(sig))) throw new NarInfoError('a Sig is not keyName:signature')
  return info
}

/** Writes a narinfo in the order and form Nix writes it (References line always present, possibly empty). */
export function formatNarInfo (info: NarInfo): string {
  const lines = [
    `StorePath: ${info.path}`,
    `URL: ${info.url}`,
    `Compression: ${info.compression}`
  ]
  if (info.fileHash !== undefined) lines.push(`FileHash: ${info.fileHash}`)
  if (info.fileSize !== undefined && info.fileSize !== 0) lines.push(`FileSize: ${info.fileSize}`)
  lines.push(`NarHash: ${info.narHash}`, `NarSize: ${info.narSize}`)
  lines.push(`References: ${[...info.references].sort().map(baseNameOf).join(' ')}`)
  if (info.deriver !== undefined) lines.push(`Deriver: ${baseNameOf(info.deriver)}`)
  for (const sig of info.sigs) lines.push(`Sig: ${sig}`)
  if (info.ca !== undefined) lines.push(`CA: ${info.ca}`)
  return lines.join('\n') + '\n'
}

/** The narinfo of an uncompressed NAR served at `url` (FileHash/FileSize equal NarHash/NarSize then). */
export function narInfoForPath (info: PathInfo, url: string): NarInfo {
  return { ...info, url, compression: 'none', fileHash: info.narHash, fileSize: info.narSize }
}

/** `<hashPart>.narinfo`, the name a binary cache serves the narinfo of `path` under. */
export function narInfoFileName (path: string): string {
  return `${parseStorePath(path).hashPart}.narinfo`
}
