/**
 * The local Nix store, reached through Nix's own command-line tools (Nix 2.8 from Debian, single-user as root).
 *
 * - Queries: `nix-store --check-validity --print-invalid` for validity (it never tries substituters), then
 *   `nix path-info --json [--recursive]` (with `--extra-experimental-features nix-command`, and
 *   `--option substituters ''` because `nix path-info` otherwise asks the configured caches about paths it is
 *   given). Its SRI hashes are normalised to `sha256:<nix32>`.
 * - NARs are written by our own NAR writer straight from the store directory (byte-identical to
 *   `nix-store --dump`, which `dumpNarWithNix` runs for comparison).
 * - A second store on the same machine: every command takes `--store DIR` (Nix 2.8's "chroot store": the same
 *   logical `/nix/store/...` paths, files under `DIR/nix/store`, database under `DIR/nix/var/nix`), so two nodes on
 *   one machine each have their own store. `nix-store --store DIR --import`, `--verify-path`, `-qR`,
 *   `nix path-info --store DIR` and `nix copy --to DIR` all work as root (the integration tests use each).
 * - Child processes: at most `maxProcesses` Nix commands run at once per LocalNix (the rest wait in order), so
 *   that requests to the binary cache, each of which asks Nix a question or two, cannot fork without bound. An
 *   import holds its slot for as long as it runs.
 * - Importing (docs/nix.md "Importing"): as root on a store we may write (store-restore.ts), each NAR is restored
 *   by our own restorer at its store path and the paths are registered with `nix-store --load-db` with the
 *   narHash/narSize we checked, so Nix hashes nothing again. Otherwise (not root, or a daemon's store) by
 *   `nix-store [--store DIR] --import` fed the export stream (export-format.ts), dependencies first; Nix
 *   registers each path only after reading its whole NAR and trailer, hashes it itself, and holds each NAR in
 *   memory until the path is added (Nix 2.8, export-import.cc). Either way `importPaths` checks the signatures
 *   first (when given trusted keys) and every NAR not marked `verified` against the expected narHash/narSize while
 *   it streams: a mismatch stops that path before it is registered.
 */
import { lstat, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { isErrno } from '../util/errors.ts'
import { Semaphore } from '../util/semaphore.ts'
import { silentLogger } from '../util/logger.ts'
import type { Logger } from '../util/logger.ts'
import { MissingReferenceError, PathNotValidError } from './errors.ts'
import { exportStream } from './export-format.ts'
import type { ExportItem } from './export-format.ts'
import { parseNixHash } from './hash.ts'
import { dumpNar } from './nar-writer.ts'
import { sortByDependencies } from './path-info.ts'
import type { PathInfo } from './path-info.ts'
import { runCommand, streamCommand } from './process.ts'
import { assertSignedBy } from './signing.ts'
import type { PublicKey } from './signing.ts'
import { defaultImportMethod, restoreLock, restorePaths } from './store-restore.ts'
import type { ImportMethod } from './store-restore.ts'
import { STORE_DIR, isHashPart, parseStorePath } from './store-path.ts'
import type { StorePath } from './store-path.ts'

export interface LocalNixInit {
  /** Root of a chroot store (`--store DIR`); the system store when absent. */
  storeRoot?: string
  /** @default 'nix-store' */
  nixStoreCommand?: string
  /** @default 'nix' */
  nixCommand?: string
  /** Environment of the Nix commands. @default process.env */
  env?: NodeJS.ProcessEnv
  /** Timeout of each Nix command. @default 10 minutes */
  timeoutMs?: number
  /** Nix commands run at once; more wait for a slot. @default 4 */
  maxProcesses?: number
  /** How `importPaths` adds paths. @default 'restore' as root on a store without a daemon, else 'import' */
  importMethod?: ImportMethod
  logger?: Logger
}

/** Nix commands one LocalNix runs at once: a query costs a process start and a SQLite read, so a few suffice. */
export const DEFAULT_MAX_NIX_PROCESSES = 4

export interface NixCallOptions {
  signal?: AbortSignal
}

export interface ImportOptions extends NixCallOptions {
  /** When given, every imported path must carry a signature by one of these keys (SignatureError otherwise). */
  trustedKeys?: readonly PublicKey[]
}

const PathInfoJson = z.object({
  path: z.string(),
  valid: z.boolean().optional(),
  narHash: z.string().optional(),
  narSize: z.number().int().nonnegative().optional(),
  references: z.array(z.string()).optional(),
  deriver: z.string().optional(),
  signatures: z.array(z.string()).optional(),
  ca: z.string().optional()
})
const PathInfoListJson = z.array(PathInfoJson)

/** Paths per command line, well under ARG_MAX. */
const BATCH = 500

function toPathInfo (json: z.infer<typeof PathInfoJson>): PathInfo {
  if (json.valid === false || json.narHash === undefined || json.narSize === undefined) throw new PathNotValidError(json.path)
  const info: PathInfo = {
    path: parseStorePath(json.path).path,
    narHash: parseNixHash(json.narHash),
    narSize: json.narSize,
    references: (json.references ?? []).map(ref => parseStorePath(ref).path).sort(),
    sigs: json.signatures ?? []
  }
  if (json.deriver !== undefined) info.deriver = parseStorePath(json.deriver).path
  if (json.ca !== undefined) info.ca = json.ca
  return info
}

function batches<T> (items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH))
  return out
}

export class LocalNix {
  readonly storeRoot: string | undefined
  /** The directory that holds the store paths' files (`/nix/store`, or `DIR/nix/store` for a chroot store). */
  readonly realStoreDir: string
  /** How `importPaths` adds paths (store-restore.ts). */
  readonly importMethod: ImportMethod
  readonly #nixStore: string
  readonly #nix: string
  readonly #env: NodeJS.ProcessEnv | undefined
  readonly #timeoutMs: number | undefined
  readonly #logger: Logger
  readonly #processes: Semaphore
  #listing: { mtimeNs: bigint, byHashPart: Map<string, string[]> } | undefined

  constructor (init: LocalNixInit = {}) {
    this.storeRoot = init.storeRoot
    this.realStoreDir = init.storeRoot === undefined ? STORE_DIR : join(init.storeRoot, STORE_DIR)
    this.#nixStore = init.nixStoreCommand ?? 'nix-store'
    this.#nix = init.nixCommand ?? 'nix'
    this.#env = init.env
    this.#timeoutMs = init.timeoutMs
    this.#logger = init.logger ?? silentLogger
    this.#processes = new Semaphore(init.maxProcesses ?? DEFAULT_MAX_NIX_PROCESSES)
    this.importMethod = init.importMethod ?? defaultImportMethod(init.storeRoot, init.env ?? process.env)
  }

  /** Nix commands running now, and how many wait for a slot. */
  get processes (): { running: number, queued: number } {
    return { running: this.#processes.inUse, queued: this.#processes.queued }
  }

  #storeArgs (): string[] {
    return this.storeRoot === undefined ? [] : ['--store', this.storeRoot]
  }

  #run (command: string, args: string[], options: NixCallOptions & { stdin?: AsyncIterable<Uint8Array> } = {}): Promise<{ stdout: Buffer }> {
    this.#logger.debug(`${command} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' ...' : ''}`)
    return this.#processes.run(async () => await runCommand(command, args, {
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(this.#env === undefined ? {} : { env: this.#env }),
      ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs })
    }), options.signal)
  }

  /** Where the files of `path` are on this machine. */
  realPath (path: StorePath): string {
    return join(this.realStoreDir, parseStorePath(path).baseName)
  }

  /** `nix-store --version`, e.g. `nix-store (Nix) 2.8.0`; throws NixCommandError when Nix is not usable. */
  async version (options: NixCallOptions = {}): Promise<string> {
    return (await this.#run(this.#nixStore, ['--version'], options)).stdout.toString('utf8').trim()
  }

  /** The subset of `paths` that are valid (present and registered) in this store. */
  async validPaths (paths: readonly StorePath[], options: NixCallOptions = {}): Promise<Set<StorePath>> {
    const unique = [...new Set(paths.map(p => parseStorePath(p).path))]
    const valid = new Set(unique)
    for (const batch of batches(unique)) {
      const { stdout } = await this.#run(this.#nixStore, [...this.#storeArgs(), '--check-validity', '--print-invalid', ...batch], options)
      for (const line of stdout.toString('utf8').split('\n')) if (line !== '') valid.delete(line)
    }
    return valid
  }

  async isValid (path: StorePath, options: NixCallOptions = {}): Promise<boolean> {
    return (await this.validPaths([path], options)).has(parseStorePath(path).path)
  }

  /** Infos of `paths` (and with `recursive`, of their whole closure); PathNotValidError if one is not valid. */
  async pathInfos (paths: readonly StorePath[], options: NixCallOptions & { recursive?: boolean } = {}): Promise<PathInfo[]> {
    const valid = await this.validPaths(paths, options)
    const invalid = paths.find(p => !valid.has(p))
    if (invalid !== undefined) throw new PathNotValidError(invalid)
    const out = new Map<string, PathInfo>()
    for (const batch of batches([...valid])) {
      const args = ['path-info', '--json', '--extra-experimental-features', 'nix-command', '--option', 'substituters', '',
        ...this.#storeArgs(), ...(options.recursive === true ? ['--recursive'] : []), ...batch]
      const { stdout } = await this.#run(this.#nix, args, options)
      for (const json of PathInfoListJson.parse(JSON.parse(stdout.toString('utf8')))) {
        const info = toPathInfo(json)
        out.set(info.path, info)
      }
    }
    return [...out.values()]
  }

  async pathInfo (path: StorePath, options: NixCallOptions = {}): Promise<PathInfo> {
    const [info] = await this.pathInfos([path], options)
    if (info === undefined) throw new PathNotValidError(path)
    return info
  }

  /** The closure of `paths` (references followed transitively), dependencies first. */
  async closure (paths: readonly StorePath[], options: NixCallOptions = {}): Promise<PathInfo[]> {
    return sortByDependencies(await this.pathInfos(paths, { ...options, recursive: true }))
  }

  /**
   * The valid store path whose hash part is `hashPart`, or undefined. The store directory listing is cached and
   * read again only when the directory's mtime changes (a path added or removed changes it).
   */
  async findPathByHashPart (hashPart: string, options: NixCallOptions = {}): Promise<StorePath | undefined> {
    if (!isHashPart(hashPart)) return undefined
    const candidates = (await this.#byHashPart()).get(hashPart) ?? []
    if (candidates.length === 0) return undefined
    const valid = await this.validPaths(candidates.map(name => `${STORE_DIR}/${name}`), options)
    return [...valid].sort()[0]
  }

  async #byHashPart (): Promise<Map<string, string[]>> {
    let mtimeNs: bigint
    try {
      mtimeNs = (await stat(this.realStoreDir, { bigint: true })).mtimeNs
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return new Map()
      throw err
    }
    if (this.#listing?.mtimeNs === mtimeNs) return this.#listing.byHashPart
    const byHashPart = new Map<string, string[]>()
    for (const name of await readdir(this.realStoreDir)) {
      const hashPart = name.slice(0, 32)
      if (name.charAt(32) !== '-' || !isHashPart(hashPart)) continue
      byHashPart.set(hashPart, [...(byHashPart.get(hashPart) ?? []), name])
    }
    this.#listing = { mtimeNs, byHashPart }
    return byHashPart
  }

  /** True when the files of `path` are still on disk (a cheap check that it was not garbage-collected). */
  async existsOnDisk (path: StorePath): Promise<boolean> {
    try {
      await lstat(this.realPath(path))
      return true
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false
      throw err
    }
  }

  /** The NAR of a store path, written by our NAR writer from the store directory. */
  dumpNar (path: StorePath, options: NixCallOptions = {}): AsyncGenerator<Uint8Array> {
    return dumpNar(this.realPath(path), options.signal === undefined ? {} : { signal: options.signal })
  }

  /** The NAR of a store path as `nix-store --dump` writes it (streamed from the child's stdout). */
  async * dumpNarWithNix (path: StorePath, options: NixCallOptions = {}): AsyncGenerator<Uint8Array> {
    const release = await this.#processes.acquire(options.signal)
    try {
      yield * streamCommand(this.#nixStore, ['--dump', this.realPath(path)], {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(this.#env === undefined ? {} : { env: this.#env })
      })
    } finally {
      release()
    }
  }

  /**
   * Imports paths into this store (restored and registered, or `nix-store --import`: `importMethod`),
   * dependencies first, skipping those already valid.
   * Every reference must be imported too or be valid already (MissingReferenceError before anything is sent).
   * Each NAR is checked against its narHash/narSize while streaming (NarHashMismatchError / NarSizeMismatchError;
   * the path is then not registered; paths of the same call whose closures are whole may stay). Returns the
   * paths imported.
   */
  async importPaths (items: readonly ExportItem[], options: ImportOptions = {}): Promise<StorePath[]> {
    for (const item of items) if (options.trustedKeys !== undefined) assertSignedBy(item.info, options.trustedKeys)
    if (this.importMethod === 'import') return await this.#importChecked(items, options)
    return await restoreLock(this.realStoreDir).run(async () => await this.#importChecked(items, options), options.signal)
  }

  async #importChecked (items: readonly ExportItem[], options: NixCallOptions): Promise<StorePath[]> {
    const present = await this.validPaths(items.map(i => i.info.path), options)
    const todo = items.filter(i => !present.has(i.info.path))
    if (todo.length === 0) return []
    const importing = new Set(todo.map(i => i.info.path))
    const outside = [...new Set(todo.flatMap(i => i.info.references).filter(r => !importing.has(r)))]
    const validOutside = await this.validPaths(outside, options)
    for (const item of todo) {
      const missing = item.info.references.find(r => !importing.has(r) && !validOutside.has(r))
      if (missing !== undefined) throw new MissingReferenceError(item.info.path, missing)
    }
    const ordered = sortByDependencies(todo.map(item => ({ ...item, path: item.info.path, references: item.info.references })))
    const signal = options.signal === undefined ? {} : { signal: options.signal }
    if (this.importMethod === 'restore') {
      const register = async (text: string, registerSignal?: AbortSignal): Promise<void> => {
        const stdin = (async function * () { yield Buffer.from(text) })()
        await this.#run(this.#nixStore, [...this.#storeArgs(), '--load-db'], { stdin, ...(registerSignal !== undefined ? { signal: registerSignal } : {}) })
      }
      return await restorePaths({ realStoreDir: this.realStoreDir, register }, ordered, options.signal)
    }
    await this.#run(this.#nixStore, [...this.#storeArgs(), '--import'], { ...signal, stdin: exportStream(ordered) })
    return ordered.map(item => item.info.path)
  }
}
