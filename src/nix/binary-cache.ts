/**
 * A Nix binary cache over HTTP (docs/formats.md "narinfo and signatures") that `nix copy --from http://...` and substituters read:
 * `GET /nix-cache-info`, `HEAD|GET /<hashPart>.narinfo` (404 when absent) and `GET /nar/<narHash>-<hashPart>.nar`,
 * uncompressed and streamed from the PathSource, never buffered whole. Narinfos are signed with `signingKey`.
 *
 * NAR URLs name the nix32 narHash and also the store path's hash part, so any NAR URL can be answered without
 * remembering which narinfo announced it: Nix keeps narinfos in its own disk cache, and may ask for a NAR long
 * after (or a server restart after) it read the narinfo. The bare `nar/<narHash>.nar` form is answered too for
 * narHashes this server announced since it started.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describeError } from '../util/errors.ts'
import { listenHttp } from '../util/http-server.ts'
import { silentLogger } from '../util/logger.ts'
import type { Logger } from '../util/logger.ts'
import { parseNixHash } from './hash.ts'
import { NARINFO_CONTENT_TYPE, formatNarInfo, narInfoForPath } from './narinfo.ts'
import type { LocalNix } from './local-nix.ts'
import { LocalNixSource } from './path-source.ts'
import type { PathSource } from './path-source.ts'
import type { PathInfo } from './path-info.ts'
import { signPathInfo } from './signing.ts'
import type { SecretKey } from './signing.ts'
import { STORE_DIR } from './store-path.ts'

export interface BinaryCacheInit {
  /** Serve this local Nix store (shorthand for `source: new LocalNixSource(nix)`). */
  nix?: LocalNix
  source?: PathSource
  /** Signs every narinfo served (replacing an older signature by a key of the same name). */
  signingKey?: SecretKey
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  port?: number
  /** `Priority` in nix-cache-info: lower is preferred by clients. @default 40 */
  priority?: number
  /** Close a connection idle this long. @default 120 s */
  idleTimeoutMs?: number
  logger?: Logger
}

export interface BinaryCache {
  /** `http://host:port`, what `nix copy --from` and `substituters` take. */
  readonly url: string
  readonly port: number
  readonly server: Server
  close: () => Promise<void>
}

const NAR_URL = /^\/nar\/([0-9a-z]{52})(?:-([0-9a-z]{32}))?\.nar$/
const NARINFO_URL = /^\/([0-9a-z]{32})\.narinfo$/
const ANNOUNCED_LIMIT = 100_000

class CacheHandler {
  readonly #source: PathSource
  readonly #key: SecretKey | undefined
  readonly #priority: number
  /** nix32 narHash -> hash part, for the bare `nar/<narHash>.nar` URLs. */
  readonly #announced = new Map<string, string>()

  constructor (source: PathSource, key: SecretKey | undefined, priority: number) {
    this.#source = source
    this.#key = key
    this.#priority = priority
  }

  async handle (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n')
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path === '/nix-cache-info') {
      return send(res, 200, 'text/x-nix-cache-info', `StoreDir: ${STORE_DIR}\nWantMassQuery: 1\nPriority: ${this.#priority}\n`)
    }
    const narinfo = NARINFO_URL.exec(path)
    if (narinfo?.[1] !== undefined) return await this.#narInfo(narinfo[1], res, signal)
    const nar = NAR_URL.exec(path)
    if (nar?.[1] !== undefined) return await this.#nar(nar[1], nar[2] ?? this.#announced.get(nar[1]), req, res, signal)
    send(res, 404, 'text/plain', 'not found\n')
  }

  async #narInfo (hashPart: string, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const info = await this.#source.lookup(hashPart, { signal })
    if (info === undefined) return send(res, 404, 'text/plain', 'no such path\n')
    const narHash32 = parseNixHash(info.narHash).slice('sha256:'.length)
    this.#announce(narHash32, hashPart)
    let sigs = info.sigs
    if (this.#key !== undefined) {
      const name = this.#key.name
      sigs = [...sigs.filter(sig => !sig.startsWith(`${name}:`)), signPathInfo(info, this.#key)]
    }
    const body = formatNarInfo(narInfoForPath({ ...info, sigs }, `nar/${narHash32}-${hashPart}.nar`))
    send(res, 200, NARINFO_CONTENT_TYPE, body)
  }

  async #nar (narHash32: string, hashPart: string | undefined, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const info: PathInfo | undefined = hashPart === undefined ? undefined : await this.#source.lookup(hashPart, { signal })
    if (info === undefined || parseNixHash(info.narHash) !== `sha256:${narHash32}`) return send(res, 404, 'text/plain', 'no such NAR\n')
    res.writeHead(200, { 'content-type': 'application/x-nix-nar', 'content-length': info.narSize })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    // pipeline applies back-pressure from the socket and stops the NAR writer if the client goes away.
    await pipeline(Readable.from(this.#source.openNar(info, { signal }), { objectMode: false, highWaterMark: 1024 * 1024 }), res)
  }

  #announce (narHash32: string, hashPart: string): void {
    this.#announced.delete(narHash32)
    this.#announced.set(narHash32, hashPart)
    if (this.#announced.size > ANNOUNCED_LIMIT) {
      const oldest = this.#announced.keys().next()
      if (oldest.done !== true) this.#announced.delete(oldest.value)
    }
  }
}

function send (res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

/** Starts the binary cache and resolves once it listens. */
export async function createBinaryCache (init: BinaryCacheInit): Promise<BinaryCache> {
  const source = init.source ?? (init.nix === undefined ? undefined : new LocalNixSource(init.nix))
  if (source === undefined) throw new TypeError('createBinaryCache needs a nix or a source')
  const logger = init.logger ?? silentLogger
  const handler = new CacheHandler(source, init.signingKey, init.priority ?? 40)
  const server = createServer((req, res) => {
    const controller = new AbortController()
    res.once('close', () => controller.abort(new Error('client went away')))
    handler.handle(req, res, controller.signal).catch(err => {
      if (controller.signal.aborted) {
        logger.debug(`${req.method ?? '?'} ${req.url ?? '?'} stopped: the client went away`)
        return
      }
      logger.warn(`${req.method ?? '?'} ${req.url ?? '?'} failed: ${describeError(err)}`)
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n')
      else res.destroy()
    })
  })
  server.setTimeout(init.idleTimeoutMs ?? 120_000)
  return await listenHttp(server, init.host ?? '127.0.0.1', init.port ?? 0)
}
