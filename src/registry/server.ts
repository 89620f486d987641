/**
 * The mirror's HTTP server: loopback by default, GET and HEAD only, every error rendered as OCI error JSON.
 * A client that goes away aborts its request, and with it a fetch from peers that only it waited for.
 */
import { createServer } from 'node:http'
import type { P2P } from '../p2p/service.ts'
import type { Store } from '../store/store.ts'
import { describeError } from '../util/errors.ts'
import { listenHttp, type ListeningServer } from '../util/http-server.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { MirrorContent, type MirrorContentInit } from './content.ts'
import { toRegistryError } from './errors.ts'
import { chainFetchers, p2pFetcher, type PeerFetcher } from './fetcher.ts'
import { partialBlobs, type GrowingBlobs } from './growing.ts'
import { MirrorHandler, type HandlerInit } from './handler.ts'
import { sendError } from './responses.ts'
import type { Upstream } from './upstream-address.ts'
import { upstreamFetcher } from './upstream-fetcher.ts'

export interface RegistryMirrorComponents {
  store: Store
  /** Where missing content comes from: `p2pFetcher(p2p)`, or nothing (the store alone). */
  fetcher?: PeerFetcher
  /** Blobs in flight from peers, streamed to clients as they are verified (growing.ts); else served once whole. */
  growing?: GrowingBlobs
}

export interface RegistryMirrorInit extends MirrorContentInit, HandlerInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  port?: number
  /** Close a connection idle this long. @default 120 s */
  idleTimeoutMs?: number
  logger?: Logger
}

/** `url` is what clients' mirror settings take. */
export type RegistryMirror = ListeningServer

/** Starts the mirror and resolves once it listens. */
export async function createRegistryMirror (components: RegistryMirrorComponents, init: RegistryMirrorInit = {}): Promise<RegistryMirror> {
  const logger = init.logger ?? silentLogger
  const handler = new MirrorHandler(new MirrorContent(components.store, components.fetcher, init), init, components.growing)
  const server = createServer((req, res) => {
    const controller = new AbortController()
    res.once('close', () => { controller.abort(new Error('client went away')) })
    handler.handle(req, res, controller.signal).catch(err => {
      if (controller.signal.aborted && res.writableEnded) return
      const error = toRegistryError(err)
      const line = `${req.method ?? '?'} ${req.url ?? '?'}: ${error.status} ${describeError(err)}`
      if (error.status >= 500) logger.warn(line)
      else logger.debug(line)
      sendError(res, error)
    })
  })
  server.setTimeout(init.idleTimeoutMs ?? 120_000)
  return await listenHttp(server, init.host ?? '127.0.0.1', init.port ?? 0)
}

/**
 * The mirror of a running node: its store, its peers for what the store lacks, and the `upstreams` (pull-through)
 * for what no peer holds, announced to the peers once stored.
 */
export async function createNodeMirror (store: Store, p2p: P2P, init: RegistryMirrorInit & { lookupTimeoutMs?: number, upstreams?: Upstream[] } = {}): Promise<RegistryMirror> {
  const { lookupTimeoutMs, upstreams = [], ...rest } = init
  const logger = init.logger !== undefined ? { logger: init.logger } : {}
  const peers = p2pFetcher(p2p, { ...(lookupTimeoutMs !== undefined ? { lookupTimeoutMs } : {}), ...logger })
  const fetcher = upstreams.length === 0 ? peers : chainFetchers(peers, upstreamFetcher(store, upstreams, { announce: digest => { p2p.blobAdded(digest) }, ...logger }))
  return await createRegistryMirror({ store, fetcher, growing: partialBlobs(p2p) }, rest)
}
