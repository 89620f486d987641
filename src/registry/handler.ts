/**
 * The request handler of the mirror: routes (routes.ts) to the content (content.ts), with the headers and
 * status codes of distribution-spec's pull side. Every request holds a store lease until its response is done,
 * so GC cannot take a blob fetched for it before it is sent. A whole-blob GET of a blob the node is pulling from
 * peers streams its verified prefix as the pull advances (growing.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import type { Digest } from '../oci/digest.ts'
import { isIndexMediaType } from '../oci/media-types.ts'
import { hostPlatform, selectPlatform } from '../oci/platform.ts'
import { parseIndex, type Platform } from '../oci/types.ts'
import { acceptedTypes, accepts } from './accept.ts'
import type { MirrorContent, MirrorRequest, ServedManifest } from './content.ts'
import { ManifestUnknownError, UnsupportedError } from './errors.ts'
import { sendGrowing, type GrowingBlobs } from './growing.ts'
import { parseRange } from './range.ts'
import { contentHeaders, sendJson } from './responses.ts'
import { candidateNames, originOf, parseRoute, type Route } from './routes.ts'

export interface HandlerInit {
  /** The manifest picked from an index for a client that does not accept indexes. @default the host's */
  platform?: Platform
  /** Called with the root digest of each manifest served (the node records it as a use, for the automatic GC). */
  onManifestServed?: (digest: Digest) => void
}

export class MirrorHandler {
  private readonly content: MirrorContent
  private readonly platform: Platform
  private readonly growing: GrowingBlobs | undefined
  private readonly onManifestServed: ((digest: Digest) => void) | undefined

  /** With `growing`, a whole-blob GET of a blob being pulled from peers is streamed as it is verified. */
  constructor (content: MirrorContent, init: HandlerInit = {}, growing?: GrowingBlobs) {
    this.content = content
    this.platform = init.platform ?? hostPlatform()
    this.growing = growing
    this.onManifestServed = init.onManifestServed
  }

  async handle (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new UnsupportedError(`${req.method ?? 'this method'}`)
    const route = parseRoute(req.url ?? '/')
    if (route.kind === 'base') return sendJson(res, 200, {})
    if (route.kind === 'tags') return await this.tags(route, res)
    const lease = await this.content.store.createLease()
    const origin = originOf(route.name, route.ns)
    const request: MirrorRequest = { signal, lease, ...(origin !== undefined ? { origin } : {}) }
    try {
      if (route.kind === 'manifest') await this.manifest(route, req, res, request)
      else await this.blob(route.digest, req, res, request)
    } finally {
      await lease.release()
    }
  }

  private async manifest (route: Extract<Route, { kind: 'manifest' }>, req: IncomingMessage, res: ServerResponse, request: MirrorRequest): Promise<void> {
    const wanted = 'tag' in route.reference
      ? await this.content.resolveTag(candidateNames(route.name, route.ns), route.reference.tag, request)
      : route.reference
    let served = await this.content.manifest(wanted, request)
    this.onManifestServed?.(served.descriptor.digest)
    const accepted = acceptedTypes(req.headers.accept)
    if (!accepts(accepted, served.descriptor.mediaType)) served = await this.forPlatform(served, accepted, request)
    res.writeHead(200, contentHeaders(served.descriptor.digest, served.descriptor.mediaType, served.bytes.byteLength))
    res.end(req.method === 'HEAD' ? undefined : served.bytes)
  }

  /** The platform's manifest of an index the client does not accept, if the client accepts that. */
  private async forPlatform (index: ServedManifest, accepted: string[], request: MirrorRequest): Promise<ServedManifest> {
    const refuse = (): never => { throw new ManifestUnknownError(index.descriptor.digest, `its media type ${index.descriptor.mediaType} is not in the Accept header`) }
    if (!isIndexMediaType(index.descriptor.mediaType)) refuse()
    let child
    try {
      child = selectPlatform(parseIndex(index.bytes).manifests, this.platform)
    } catch {
      return refuse()
    }
    const served = await this.content.manifest(child, request)
    return accepts(accepted, served.descriptor.mediaType) ? served : refuse()
  }

  private async blob (digest: Digest, req: IncomingMessage, res: ServerResponse, request: MirrorRequest): Promise<void> {
    let size: number
    const growing = req.method === 'GET' && req.headers.range === undefined ? this.growing : undefined
    if (growing !== undefined && !await this.content.has(digest, request)) {
      const fetch = this.content.blob(digest, request)
      const streamed = await sendGrowing(res, {
        digest,
        expectedSize: this.content.expectedSize(digest),
        fetch,
        growing,
        headers: length => ({ ...contentHeaders(digest, 'application/octet-stream', length), 'accept-ranges': 'bytes' }),
        readStored: async (start, end) => await this.content.read(digest, { start, end }),
        signal: request.signal
      })
      if (streamed) return
      size = await fetch
    } else {
      size = await this.content.blob(digest, request)
    }
    const range = parseRange(req.headers.range, size)
    const headers: Record<string, string | number> = { ...contentHeaders(digest, 'application/octet-stream', range !== undefined ? range.end - range.start : size), 'accept-ranges': 'bytes' }
    if (range !== undefined) headers['content-range'] = `bytes ${range.start}-${range.end - 1}/${size}`
    // Opened before the headers go out: a blob GC took in between is still a clean 404.
    const body = req.method === 'HEAD' ? undefined : await this.content.read(digest, range)
    res.writeHead(range !== undefined ? 206 : 200, headers)
    if (body === undefined) {
      res.end()
      return
    }
    await pipeline(body, res, { signal: request.signal })
  }

  private async tags (route: Extract<Route, { kind: 'tags' }>, res: ServerResponse): Promise<void> {
    const { tags } = await this.content.tags(candidateNames(route.name, route.ns))
    const after = route.last !== undefined ? tags.filter(t => t > (route.last as string)) : tags
    const page = route.n !== undefined ? after.slice(0, route.n) : after
    const headers: Record<string, string> = {}
    const last = page.at(-1)
    if (route.n !== undefined && last !== undefined && after.length > page.length) {
      headers.link = `</v2/${route.name}/tags/list?n=${route.n}&last=${encodeURIComponent(last)}>; rel="next"`
    }
    sendJson(res, 200, { name: route.name, tags: page }, headers)
  }
}
