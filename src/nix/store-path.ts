/**
 * Store paths (docs/formats.md "Nix store paths and nix32"): `/nix/store/<32 nix32 chars>-<name>`, the name at most 211 characters of
 * `[0-9A-Za-z+\-._?=]`, not `.` or `..` and not starting with `.-` or `..-`. We only speak the standard store
 * directory; a chroot store (`--store DIR`) keeps the same logical paths under `DIR/nix/store`.
 */
import { StorePathError } from './errors.ts'
import { NIX32_ALPHABET } from './nix32.ts'

export const STORE_DIR = '/nix/store'
export const HASH_PART_LENGTH = 32
export const MAX_NAME_LENGTH = 211

/** A validated store path such as `/nix/store/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top`. */
export type StorePath = string

export interface ParsedStorePath {
  /** The full path, `/nix/store/<hashPart>-<name>`. */
  path: StorePath
  /** `<hashPart>-<name>`: what narinfo References list. */
  baseName: string
  /** The 32 nix32 characters that name the narinfo (`<hashPart>.narinfo`). */
  hashPart: string
  name: string
}

const HASH_PART = new RegExp(`^[${NIX32_ALPHABET}]{${HASH_PART_LENGTH}}$`)
const NAME_CHARS = /^[0-9A-Za-z+\-._?=]+$/

export function isHashPart (value: string): boolean {
  return HASH_PART.test(value)
}

/** Why `name` is not a valid store path name, or undefined when it is. */
export function storeNameProblem (name: string): string | undefined {
  if (name.length === 0) return 'the name is empty'
  if (name.length > MAX_NAME_LENGTH) return `the name is longer than ${MAX_NAME_LENGTH} characters`
  if (!NAME_CHARS.test(name)) return 'the name has a character outside [0-9A-Za-z+-._?=]'
  if (name === '.' || name === '..') return 'the name is . or ..'
  if (name.startsWith('.-') || name.startsWith('..-')) return 'the name starts with .- or ..-'
  return undefined
}

function baseNameProblem (baseName: string): string | undefined {
  if (!isHashPart(baseName.slice(0, HASH_PART_LENGTH))) return 'the hash part is not 32 nix32 characters'
  if (baseName.charAt(HASH_PART_LENGTH) !== '-') return 'no - after the hash part'
  return storeNameProblem(baseName.slice(HASH_PART_LENGTH + 1))
}

function parts (baseName: string): ParsedStorePath {
  return {
    path: `${STORE_DIR}/${baseName}`,
    baseName,
    hashPart: baseName.slice(0, HASH_PART_LENGTH),
    name: baseName.slice(HASH_PART_LENGTH + 1)
  }
}

/** Parses `<hashPart>-<name>` (a narinfo reference) and returns the parts, or throws StorePathError. */
export function parseStoreBaseName (baseName: string): ParsedStorePath {
  const problem = baseName.includes('/') ? 'a base name has no /' : baseNameProblem(baseName)
  if (problem !== undefined) throw new StorePathError(baseName, problem)
  return parts(baseName)
}

/** Parses a full store path (no trailing slash, no sub-path) or throws StorePathError. */
export function parseStorePath (path: string): ParsedStorePath {
  const prefix = STORE_DIR + '/'
  const baseName = path.slice(prefix.length)
  let problem: string | undefined
  if (!path.startsWith(prefix)) problem = `not under ${STORE_DIR}`
  else if (baseName.includes('/')) problem = 'a store path has no sub-path'
  else problem = baseNameProblem(baseName)
  if (problem !== undefined) throw new StorePathError(path, problem)
  return parts(baseName)
}

export function isStorePath (path: string): boolean {
  try {
    parseStorePath(path)
    return true
  } catch {
    return false
  }
}

export function baseNameOf (path: StorePath): string {
  return parseStorePath(path).baseName
}

export function hashPartOf (path: StorePath): string {
  return parseStorePath(path).hashPart
}
