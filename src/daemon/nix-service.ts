/**
 * The daemon's Nix side (docs/nix.md): the node's Nix store (`nixStore`, default the system store), its signing
 * key (`<data-dir>/nix/signing.sec`, generated on first start), the control routes behind `emergence nix share`
 * and `emergence nix pull`, and the Nix binary cache endpoint (`nixCache`, loopback by default) that serves the
 * paths this node shared or pulled (the whole local Nix store only with `nixCacheWholeStore`) and, on demand,
 * what peers share.
 */
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { z } from 'zod'
import {
  LocalNix, PeerPathSource, createBinaryCache, formatPublicKey, listNixRefs, loadOrCreateNodeKey, parsePublicKey,
  parseStorePath, pullClosure, sharePaths, type BinaryCache, type NixNetwork, type PublicKey, type SecretKey
} from '../nix/index.ts'
import type { FetchContext } from '../nix/index.ts'
import type { P2P } from '../p2p/service.ts'
import type { Store } from '../store/store.ts'
import { EmergenceError, isErrno } from '../util/errors.ts'
import { createLogger, type Logger } from '../util/logger.ts'
import { DEFAULT_NIX_CACHE, parseListenAddress, type NodeConfig } from './config.ts'
import type { Routes } from './control-server.ts'
import { InvalidConfigError, portInUse } from './errors.ts'
import { eventsOf } from './events.ts'

export interface NixStatus {
  /** The chroot store root, or `/nix/store` for the system store. */
  store: string
  /** `http://host:port` of the binary cache, when it runs. */
  cacheUrl?: string
  publicKey: string
  trustedKeys: string[]
  /** Paths and closures this node shares (its `nix/` refs). */
  paths: number
  closures: number
}

const NIX_COMMAND_TIMEOUT_MS = 6 * 60 * 60 * 1000
/** How long one peer may take to answer a RESOLVE asked of it alone. */
const RESOLVE_TIMEOUT_MS = 3_000

const storePath = z.string().refine(p => { try { parseStorePath(p); return true } catch { return false } }, 'not a store path')
const shareSchema = z.object({ paths: z.array(storePath).min(1) })
const pullSchema = z.object({ path: storePath, trustedKeys: z.array(z.string()).optional() })

function parseBody<T> (schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw new EmergenceError(`bad request: ${parsed.error.issues[0]?.message ?? 'invalid body'}`, { code: 'BAD_REQUEST' })
  return parsed.data
}

function parseKeys (keys: readonly string[], where: string): PublicKey[] {
  return keys.map(key => {
    try {
      return parsePublicKey(key)
    } catch (err) {
      throw new InvalidConfigError(`${where}: ${err instanceof Error ? err.message : String(err)}`, err)
    }
  })
}

function toPeerIds (ids: readonly string[] | undefined): PeerId[] {
  return (ids ?? []).flatMap(id => {
    try {
      return [peerIdFromString(id)]
    } catch {
      return []
    }
  })
}

/** The P2P subsystem seen through the small contract the Nix code needs. */
export function p2pNixNetwork (p2p: P2P): NixNetwork {
  return {
    resolve: async (ref, options = {}) => {
      const resolution = await p2p.puller.resolve(ref, options)
      return { descriptor: resolution.descriptor, peers: resolution.peers.map(String), dissenters: resolution.dissenters.map(String) }
    },
    resolveAt: async (peer, ref, options = {}) => {
      const [id] = toPeerIds([peer])
      if (id === undefined) return undefined
      return await p2p.exchange.client.resolve(id, ref, { signal: AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(RESOLVE_TIMEOUT_MS)]) })
    },
    pullBlob: async (descriptor, options = {}) => {
      const { providers, ...rest } = options
      return await p2p.pullBlob(descriptor, { ...rest, providers: toPeerIds(providers) })
    },
    blobAdded: digest => { p2p.blobAdded(digest) },
    batch: async fn => await p2p.puller.batch(fn)
  }
}

export class NixService {
  readonly nix: LocalNix
  readonly key: SecretKey
  readonly context: FetchContext
  cache: BinaryCache | undefined
  private readonly config: NodeConfig

  private constructor (config: NodeConfig, context: FetchContext, key: SecretKey) {
    this.config = config
    this.context = context
    this.nix = context.nix
    this.key = key
  }

  /** Loads the key, and starts the binary cache unless `nixCache` is `off`. */
  static async start (config: NodeConfig, store: Store, p2p: P2P, logger: Logger = createLogger('nix')): Promise<NixService> {
    const trustedKeys = parseKeys(config.nixTrustedKeys, 'nixTrustedKeys')
    // A pull streams into one `nix-store --import` for as long as the network takes; every call is also bound to
    // its request's AbortSignal, so the per-command timeout only catches a Nix that hangs on its own.
    const nix = new LocalNix({ ...(config.nixStore !== undefined ? { storeRoot: config.nixStore } : {}), timeoutMs: NIX_COMMAND_TIMEOUT_MS, logger })
    const key = await loadOrCreateNodeKey(join(config.dataDir, 'nix'), `emergence-${p2p.peerId.toString()}-1`)
    const context: FetchContext = { store, nix, signingKey: key, trustedKeys, logger, network: p2pNixNetwork(p2p) }
    const service = new NixService(config, context, key)
    service.cache = await service.startCache(logger)
    return service
  }

  private async startCache (logger: Logger): Promise<BinaryCache | undefined> {
    const address = parseListenAddress(this.config.nixCache)
    if (address === undefined) return undefined
    try {
      const source = new PeerPathSource(this.context, { serveLocalStore: this.config.nixCacheWholeStore })
      const cache = await createBinaryCache({ source, signingKey: this.key, host: address.host, port: address.port, logger })
      const serves = this.config.nixCacheWholeStore ? 'every path of the local Nix store (nixCacheWholeStore)' : 'shared and pulled paths'
      logger.info(`Nix binary cache at ${cache.url}, serving ${serves}, signed by ${formatPublicKey(this.key.publicKey)}`)
      return cache
    } catch (err) {
      // Several nodes on one machine: only the first gets the default port; the others run without the cache.
      if (isErrno(err, 'EADDRINUSE') && this.config.nixCache === DEFAULT_NIX_CACHE) {
        logger.warn(`the Nix binary cache is off: ${DEFAULT_NIX_CACHE} is in use (set nixCache to another host:port)`)
        return undefined
      }
      throw portInUse(err, 'the Nix binary cache', this.config.nixCache, '--nix-cache', 'nixCache')
    }
  }

  async status (): Promise<NixStatus> {
    const refs = await listNixRefs(this.context.store)
    return {
      store: this.nix.storeRoot ?? '/nix/store',
      ...(this.cache !== undefined ? { cacheUrl: this.cache.url } : {}),
      publicKey: formatPublicKey(this.key.publicKey),
      trustedKeys: this.config.nixTrustedKeys,
      paths: refs.filter(r => r.kind === 'path').length,
      closures: refs.filter(r => r.kind === 'closure').length
    }
  }

  routes (): Routes {
    return {
      'GET /v1/nix/status': async () => await this.status(),
      'POST /v1/nix/share': async ({ body, signal }) => {
        const { paths } = parseBody(shareSchema, body)
        const context = { ...this.context, announce: this.context.network.blobAdded }
        return eventsOf(async emit => {
          const { digests, ...result } = await sharePaths(context, paths, { signal, onProgress: emit })
          return { ...result, blobs: digests.length }
        })
      },
      'POST /v1/nix/pull': async ({ body, signal }) => {
        const request = parseBody(pullSchema, body)
        const trustedKeys = parseKeys(request.trustedKeys ?? [], 'trusted key')
        return eventsOf(async emit => await pullClosure(this.context, request.path, { signal, onProgress: emit, trustedKeys }))
      }
    }
  }

  async stop (): Promise<void> {
    await this.cache?.close()
  }
}
