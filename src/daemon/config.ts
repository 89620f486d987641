/**
 * Node configuration: defaults, then `<data-dir>/config.yaml` (or `--config`), then environment variables, then
 * command-line flags. Every source is validated; a bad value names its source and key.
 *
 * ```yaml
 * listen: [/ip4/0.0.0.0/tcp/7701]
 * bootstrap: [/ip4/10.0.0.1/tcp/7701/p2p/12D3Koo...]
 * allowList: [12D3Koo...]        # empty: any peer may connect (the node warns at start)
 * trustedPeers: [12D3Koo...]     # who may resolve name:tag; empty: the allow-listed peers; neither: nobody
 * mdns: false                    # discover and dial LAN peers (default off: docs/security.md)
 * lanePort: 0                    # TCP port of the TLS data lane for piece bytes: 0 = any free port (offered to
 *                                # peers over libp2p), a fixed port for firewalls, or off (libp2p streams only)
 * lanePlaintext: false           # trusted networks only: lanes without TLS with peers that opt in too (docs/security.md)
 * uploadLimit: 50M               # bytes per second, K/M/G suffixes
 * downloadLimit: 0               # 0 = unlimited
 * nixStore: /srv/nix-b           # a chroot Nix store (--store DIR); absent: the system store
 * nixCache: 127.0.0.1:7702       # the Nix binary cache endpoint (host:port), or off
 * nixCacheWholeStore: false      # true: the cache serves (and signs) every path of the local Nix store, not
 *                                # only the paths shared with `emergence nix share` or pulled through the node
 * nixTrustedKeys: [name-1:base64...]   # when set, pulled Nix paths must be signed by one of these
 * registry: 127.0.0.1:7703       # the OCI registry mirror (docs/registry.md), host:port or off
 * registryUpstreams: [docker.io]  # registries the mirror and `pull` pull through from when no peer has the content
 * admin: 127.0.0.1:7704          # metrics, /healthz and /readyz (docs/operations.md "Monitoring"), host:port or off
 * logLevel: info                 # error, warn, info or debug (default warn)
 * gcHighWatermark: 90%           # automatic GC starts when the store's filesystem is fuller than this
 * gcLowWatermark: 80%            # ... and frees down to this (docs/operations.md "Automatic GC")
 * gcMaxStoreSize: 50GiB          # also start when the store's blobs pass this size; off (default): no cap
 * gcInterval: 5m                 # how often the watermarks are checked; off: never
 * syncPublishers: [12D3Koo...]   # whose signed desired-set documents count (docs/automata.md "Cluster sync");
 *                                # absent: this node and its trustedPeers
 * ```
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { closest, distance } from 'fastest-levenshtein'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { isErrno } from '../util/errors.ts'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, type LogLevel } from '../util/logger.ts'
import { InvalidConfigError } from './errors.ts'
import { parseUpstream } from '../registry/upstream-address.ts'
import { DEFAULT_GC_HIGH_WATERMARK, DEFAULT_GC_INTERVAL, DEFAULT_GC_LOW_WATERMARK, parseDuration, parsePercent, parseSizeCap } from '../gc/settings.ts'

export const DEFAULT_PORT = 7701
/** The Nix binary cache listens on loopback only unless told otherwise: it serves whatever peers share. */
export const DEFAULT_NIX_CACHE = '127.0.0.1:7702'
/** The OCI registry mirror, loopback only unless told otherwise (docs/registry.md). */
export const DEFAULT_REGISTRY = '127.0.0.1:7703'
/** Metrics and health endpoints, loopback only unless told otherwise (docs/operations.md "Monitoring"). */
export const DEFAULT_ADMIN = '127.0.0.1:7704'
export const CONFIG_ENV = 'EMERGENCE_CONFIG'

export interface NodeConfig {
  dataDir: string
  listen: string[]
  bootstrap: string[]
  allowList: string[]
  trustedPeers: string[]
  mdns: boolean
  /** Port of the data lane (docs/protocol.md §9); 0: any free port; `off`: piece bytes over libp2p streams only. */
  lanePort: number | 'off'
  /** Plaintext data lanes with peers that opt in too (docs/protocol.md §9.5): trusted networks only. */
  lanePlaintext: boolean
  /** Bytes per second; 0 = unlimited. */
  uploadLimit: number
  downloadLimit: number
  /** Root of a chroot Nix store (`nix-store --store DIR`); undefined: the system store. */
  nixStore?: string
  /** `host:port` of the Nix binary cache endpoint, or `off`. */
  nixCache: string
  /** `host:port` of the OCI registry mirror, or `off`. */
  registry: string
  /** Registries the mirror and `pull` pull through from on a miss (`docker.io`, `http://127.0.0.1:5000`); empty: none. */
  registryUpstreams: string[]
  /**
   * Whether the binary cache serves every valid path of the local Nix store. Off by default: the cache signs what
   * it serves, and a node offers what its operator shared (`nix share`) or pulled through it, not every build.
   */
  nixCacheWholeStore: boolean
  /** Public keys (`name:base64`) one of which must have signed every Nix path pulled; empty: no signature needed. */
  nixTrustedKeys: string[]
  /** `host:port` of the admin HTTP endpoint (`/metrics`, `/healthz`, `/readyz`), or `off`. */
  admin: string
  /** The level of the node's logs (util/logger.ts). */
  logLevel: LogLevel
  /** Automatic GC (docs/operations.md "Automatic GC"): fractions of the store's filesystem, 0-1. */
  gcHighWatermark: number
  gcLowWatermark: number
  /** Bytes of blobs above which the automatic GC frees space; null: no cap. */
  gcMaxStoreSize: number | null
  /** Seconds between two checks; 0: never. */
  gcInterval: number
  /** Peer ids whose cluster-sync documents count (docs/automata.md "Cluster sync"); absent: this node and its trusted peers. */
  syncPublishers?: string[]
}

/** Parses `host:port`, `[v6]:port` or `off` (undefined); port 0 picks a free port. */
export function parseListenAddress (value: string): { host: string, port: number } | undefined {
  if (value.trim() === 'off') return undefined
  const match = value.trim().match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/)
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  if (host === undefined || !Number.isInteger(port) || port > 65535) throw new InvalidConfigError(`invalid address ${JSON.stringify(value)}: use host:port, e.g. 127.0.0.1:7702, or off`)
  return { host, port }
}

/** A lane port flag: `off`, or a port number (0: any free port). */
export function parseLanePort (value: string): number | 'off' {
  if (value.trim() === 'off') return 'off'
  const port = Number(value)
  if (value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidConfigError(`invalid lane port ${JSON.stringify(value)}: use a port number (0: any free port) or off`)
  return port
}

/** `50M`, `1.5G`, `200K` or a plain number of bytes. */
export function parseRate (value: string | number): number {
  if (typeof value === 'number') return value
  const match = value.trim().match(/^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?(?:\/s)?$/i)
  if (match === null) throw new InvalidConfigError(`invalid rate ${JSON.stringify(value)}: use bytes per second, e.g. 50M`)
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(match[2] ?? '').toUpperCase()] ?? 1
  return Math.round(Number(match[1]) * unit)
}

/**
 * A libp2p multiaddr as text: `/ip4/10.0.0.1/tcp/7701[/p2p/<id>]`. Only the form is checked here (libp2p checks
 * the rest at start); `host:port`, the usual slip, gets the multiaddr it meant.
 */
export function checkMultiaddr (value: string): void {
  if (value.startsWith('/') && !/\s/.test(value)) return
  const hostPort = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(value.trim())
  const hint = hostPort !== null ? `/ip4/${hostPort[1] ?? ''}/tcp/${hostPort[2] ?? ''}` : '/ip4/<ip>/tcp/<port>'
  throw new InvalidConfigError(`${JSON.stringify(value)} is not a multiaddr: write it as ${hint}`)
}

/** A zod check that runs a parser of this module: the parser's own message becomes the issue's. */
function checkedBy<T> (check: (value: T) => unknown): (value: T, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    try {
      check(value)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) })
    }
  }
}

const rate = z.union([z.number().nonnegative(), z.string().superRefine(checkedBy(parseRate))]).transform(v => parseRate(v))
const multiaddrs = z.array(z.string().superRefine(checkedBy(checkMultiaddr)))
/** A GC setting as written (`90%`, `50GiB`, `5m`) or already parsed (a number from a flag): the parsed number. */
function gcSetting (parse: (value: string | number) => number): z.ZodType<number, string | number> {
  return z.union([z.number(), z.string()]).superRefine(checkedBy(parse)).transform(v => parse(v))
}
const fileSchema = z.object({
  listen: multiaddrs.optional(),
  bootstrap: multiaddrs.optional(),
  allowList: z.array(z.string()).optional(),
  trustedPeers: z.array(z.string()).optional(),
  mdns: z.boolean().optional(),
  lanePort: z.union([z.literal('off'), z.number().int().min(0).max(65535)]).optional(),
  lanePlaintext: z.boolean().optional(),
  uploadLimit: rate.optional(),
  downloadLimit: rate.optional(),
  nixStore: z.string().min(1).optional(),
  nixCache: z.string().superRefine(checkedBy(parseListenAddress)).optional(),
  registry: z.string().superRefine(checkedBy(parseListenAddress)).optional(),
  registryUpstreams: z.array(z.string().superRefine(checkedBy(parseUpstream))).optional(),
  nixCacheWholeStore: z.boolean().optional(),
  nixTrustedKeys: z.array(z.string()).optional(),
  admin: z.string().superRefine(checkedBy(parseListenAddress)).optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  gcHighWatermark: gcSetting(parsePercent).optional(),
  gcLowWatermark: gcSetting(parsePercent).optional(),
  gcMaxStoreSize: z.union([z.null(), z.number(), z.string()]).superRefine(checkedBy(parseSizeCap)).transform(v => parseSizeCap(v)).optional(),
  gcInterval: gcSetting(parseDuration).optional(),
  syncPublishers: z.array(z.string().min(1)).optional()
}).strict()

export type ConfigOverrides = Partial<Omit<NodeConfig, 'dataDir'>>
/** Overrides as the environment or flags give them: a value may still be text the file's rules parse (`90%`). */
export type ConfigInput = { [K in keyof ConfigOverrides]?: ConfigOverrides[K] | string }

/** Where each key comes from in the environment, for errors that name it. */
const ENV_NAMES: Partial<Record<keyof ConfigOverrides, string>> = {
  listen: 'EMERGENCE_LISTEN',
  bootstrap: 'EMERGENCE_BOOTSTRAP',
  allowList: 'EMERGENCE_ALLOW',
  mdns: 'EMERGENCE_MDNS',
  nixStore: 'EMERGENCE_NIX_STORE',
  nixCache: 'EMERGENCE_NIX_CACHE',
  registry: 'EMERGENCE_REGISTRY',
  admin: 'EMERGENCE_ADMIN',
  logLevel: 'EMERGENCE_LOG',
  gcHighWatermark: 'EMERGENCE_GC_HIGH_WATERMARK',
  gcLowWatermark: 'EMERGENCE_GC_LOW_WATERMARK',
  gcMaxStoreSize: 'EMERGENCE_GC_MAX_STORE_SIZE',
  gcInterval: 'EMERGENCE_GC_INTERVAL'
}

/** The keys a config file takes, for "did you mean" on an unknown one. */
const KNOWN_KEYS = Object.keys(fileSchema.shape)

/** The known key a typo most likely meant: the same letters in another case, or at most 2 edits away. */
function closeKey (key: string): string | undefined {
  const lower = key.toLowerCase()
  const near = closest(lower, KNOWN_KEYS.map(known => known.toLowerCase()))
  if (distance(lower, near) > Math.min(2, Math.floor(lower.length / 3))) return undefined
  return KNOWN_KEYS.find(known => known.toLowerCase() === near)
}

/** One line for a failed check: where (file and key, variable or flag), what is wrong, and a hint. */
function describeIssue (where: (path: PropertyKey[]) => string, issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return where([]) + ': invalid'
  if (issue.code === 'unrecognized_keys') {
    const hints = issue.keys.map(key => {
      const near = closeKey(key)
      return near !== undefined ? `${JSON.stringify(key)} (did you mean ${near}?)` : JSON.stringify(key)
    })
    return `${where(issue.path)}: unknown key ${hints.join(', ')}; the keys are ${KNOWN_KEYS.join(', ')}`
  }
  return `${where(issue.path)}: ${issue.message}`
}

/** Checks overrides from the environment or flags with the file's own rules, naming the variable or flag. */
function checkOverrides (overrides: ConfigInput, nameOf: (key: string) => string): ConfigOverrides {
  const parsed = fileSchema.partial().safeParse(overrides)
  if (parsed.success) return parsed.data as ConfigOverrides
  // The value is quoted in the message, so the variable or flag alone says where it came from.
  throw new InvalidConfigError(describeIssue(path => nameOf(String(path[0] ?? '')), parsed.error.issues[0]))
}

/** `['listen', 0]` -> `listen[0]`. */
function keyPath (path: PropertyKey[]): string {
  return path.map((part, i) => typeof part === 'number' ? `[${part}]` : `${i > 0 ? '.' : ''}${String(part)}`).join('')
}

/** `nixCache` -> `--nix-cache`. */
function flagOf (key: string): string {
  return '--' + key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())
}

function list (value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined
  return value.split(',').map(s => s.trim()).filter(s => s !== '')
}

/** Overrides from EMERGENCE_LISTEN, EMERGENCE_BOOTSTRAP, EMERGENCE_ALLOW, EMERGENCE_MDNS, EMERGENCE_NIX_STORE, EMERGENCE_NIX_CACHE, EMERGENCE_REGISTRY, EMERGENCE_ADMIN, EMERGENCE_LOG, EMERGENCE_GC_*. */
export function configFromEnv (env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const listen = list(env.EMERGENCE_LISTEN)
  const bootstrap = list(env.EMERGENCE_BOOTSTRAP)
  const allowList = list(env.EMERGENCE_ALLOW)
  return {
    ...(listen !== undefined ? { listen } : {}),
    ...(bootstrap !== undefined ? { bootstrap } : {}),
    ...(allowList !== undefined ? { allowList } : {}),
    ...(env.EMERGENCE_MDNS !== undefined ? { mdns: env.EMERGENCE_MDNS !== '0' && env.EMERGENCE_MDNS !== 'false' } : {}),
    ...(env.EMERGENCE_NIX_STORE !== undefined && env.EMERGENCE_NIX_STORE !== '' ? { nixStore: env.EMERGENCE_NIX_STORE } : {}),
    ...(env.EMERGENCE_NIX_CACHE !== undefined && env.EMERGENCE_NIX_CACHE !== '' ? { nixCache: env.EMERGENCE_NIX_CACHE } : {}),
    ...(env.EMERGENCE_REGISTRY !== undefined && env.EMERGENCE_REGISTRY !== '' ? { registry: env.EMERGENCE_REGISTRY } : {}),
    ...(env.EMERGENCE_ADMIN !== undefined && env.EMERGENCE_ADMIN !== '' ? { admin: env.EMERGENCE_ADMIN } : {}),
    ...(env.EMERGENCE_LOG !== undefined && env.EMERGENCE_LOG !== '' ? { logLevel: env.EMERGENCE_LOG as LogLevel } : {}),
    ...gcFromEnv(env)
  }
}

/** The GC keys from the environment, as written: `checkOverrides` parses them with the file's rules. */
function gcFromEnv (env: NodeJS.ProcessEnv): Record<string, string> {
  const keys = ['gcHighWatermark', 'gcLowWatermark', 'gcMaxStoreSize', 'gcInterval'] as const
  return Object.fromEntries(keys.flatMap(key => {
    const value = env[ENV_NAMES[key] ?? '']
    return value !== undefined && value !== '' ? [[key, value]] : []
  }))
}

async function readConfigFile (path: string, required: boolean): Promise<ConfigOverrides> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (!required && isErrno(err, 'ENOENT')) return {}
    throw new InvalidConfigError(`cannot read config file ${path}`, err)
  }
  let raw: unknown
  try {
    raw = parseYaml(text) ?? {}
  } catch (err) {
    throw new InvalidConfigError(`${path} is not valid YAML`, err)
  }
  const parsed = fileSchema.safeParse(raw)
  if (!parsed.success) throw new InvalidConfigError(describeIssue(at => at.length === 0 ? path : `${path}: ${keyPath(at)}`, parsed.error.issues[0]))
  const { uploadLimit, downloadLimit, ...rest } = parsed.data
  return Object.fromEntries(Object.entries({ ...rest, uploadLimit, downloadLimit }).filter(([, v]) => v !== undefined)) as ConfigOverrides
}

export async function loadConfig (dataDir: string, options: { configFile?: string, flags?: ConfigInput, env?: NodeJS.ProcessEnv } = {}): Promise<NodeConfig> {
  const env = options.env ?? process.env
  const explicit = options.configFile ?? env[CONFIG_ENV]
  const fromFile = await readConfigFile(explicit ?? join(dataDir, 'config.yaml'), explicit !== undefined)
  const fromEnv = checkOverrides(configFromEnv(env), key => ENV_NAMES[key as keyof ConfigOverrides] ?? key)
  const flags = checkOverrides(Object.fromEntries(Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined)) as ConfigInput, flagOf)
  const merged: NodeConfig = {
    dataDir,
    listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`],
    bootstrap: [],
    allowList: [],
    trustedPeers: [],
    // Off unless asked for: mDNS announces the node to the whole LAN and dials whoever answers.
    mdns: false,
    lanePort: 0,
    lanePlaintext: false,
    uploadLimit: 0,
    downloadLimit: 0,
    nixCache: DEFAULT_NIX_CACHE,
    registry: DEFAULT_REGISTRY,
    registryUpstreams: [],
    nixCacheWholeStore: false,
    nixTrustedKeys: [],
    admin: DEFAULT_ADMIN,
    logLevel: DEFAULT_LOG_LEVEL,
    gcHighWatermark: DEFAULT_GC_HIGH_WATERMARK,
    gcLowWatermark: DEFAULT_GC_LOW_WATERMARK,
    gcMaxStoreSize: null,
    gcInterval: DEFAULT_GC_INTERVAL,
    ...fromFile,
    ...fromEnv,
    ...flags
  }
  if (merged.gcLowWatermark > merged.gcHighWatermark) {
    throw new InvalidConfigError(`gcLowWatermark (${merged.gcLowWatermark * 100}%) is above gcHighWatermark (${merged.gcHighWatermark * 100}%): the GC frees down to the low one once the high one is passed`)
  }
  return merged
}
