/**
 * A pull-only client of one registry's distribution API (docs/registry.md "Pulling from a registry"): manifests by
 * tag or digest with the Accept header of every manifest type we read (OCI and Docker schema 2), and blobs as
 * streams. A 401 is answered once per scope from its challenge (auth.ts) and the answer kept for later requests.
 */
import { digestOf, type Digest } from '../../oci/digest.ts'
import { MEDIA_TYPE } from '../../oci/media-types.ts'
import { MAX_JSON_BYTES, type Descriptor } from '../../oci/types.ts'
import { sniffMediaType } from '../../oci/walk.ts'
import { answerChallenge, parseChallenge } from './auth.ts'
import { errorDetail, readBounded } from './body.ts'
import type { Credentials } from './credentials.ts'
import { UpstreamAuthError, UpstreamContentError, UpstreamResponseError, UpstreamUnreachableError } from './errors.ts'

export const MANIFEST_ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.dockerManifest].join(', ')

/** How often one blob download is resumed after the connection broke. */
export const MAX_RESUMES = 5

export interface RegistryClientInit {
  /** `host[:port]` of the registry's API. */
  host: string
  /** Plain HTTP instead of HTTPS (a registry on a test host). @default false */
  plainHttp?: boolean
  credentials?: Credentials
}

export interface FetchedManifest {
  descriptor: Descriptor
  bytes: Buffer
}

export class RegistryClient {
  readonly host: string
  private readonly base: string
  private readonly credentials: Credentials | undefined
  private authorization: string | undefined

  constructor (init: RegistryClientInit) {
    this.host = init.host
    this.base = `${init.plainHttp === true ? 'http' : 'https'}://${init.host}`
    this.credentials = init.credentials
  }

  /** A manifest or index by tag or digest, checked against the digest asked for or the one the registry names. */
  async manifest (repository: string, reference: string, signal: AbortSignal): Promise<FetchedManifest> {
    const response = await this.get(repository, `/v2/${repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal)
    const bytes = await readBounded(this.host, response, MAX_JSON_BYTES, `manifest ${repository}:${reference}`)
    const digest = digestOf(bytes)
    const named = response.headers.get('docker-content-digest')
    if (reference.includes(':') && reference !== digest) throw new UpstreamContentError(this.host, `manifest ${reference} has digest ${digest}`)
    if (named !== null && named.startsWith('sha256:') && named !== digest) throw new UpstreamContentError(this.host, `manifest ${repository}:${reference} hashes to ${digest}, not the ${named} the registry names`)
    let mediaType: string | undefined
    try {
      mediaType = sniffMediaType(bytes)
    } catch {
      mediaType = undefined
    }
    if (mediaType === undefined) throw new UpstreamContentError(this.host, `${repository}:${reference} is not an OCI or Docker schema 2 manifest or index (schema 1 is not supported)`)
    return { descriptor: { mediaType, digest, size: bytes.byteLength }, bytes }
  }

  /**
   * A blob's bytes. A transfer cut short is resumed where it stopped (`Range: bytes=N-`, a 206 expected), up to
   * MAX_RESUMES times; the caller verifies the whole while storing it (and bounds it when `size` is unknown).
   */
  async * blob (repository: string, blob: { digest: Digest, size?: number }, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const path = `/v2/${repository}/blobs/${blob.digest}`
    let offset = 0
    for (let resumes = 0; ; resumes++) {
      const response = await this.get(repository, path, offset > 0 ? { range: `bytes=${offset}-` } : {}, signal)
      if (offset > 0 && response.status !== 206) {
        await response.body?.cancel()
        throw new UpstreamContentError(this.host, `blob ${blob.digest} was cut off at byte ${offset} and the registry cannot resume it (HTTP ${response.status} to a Range request)`)
      }
      let cut: unknown
      try {
        for await (const chunk of response.body ?? []) {
          offset += chunk.byteLength
          yield chunk
        }
      } catch (err) {
        signal.throwIfAborted()
        cut = err
      }
      // Without a size, a body that ended cleanly is the whole blob (the caller's digest check says if it is not).
      if (blob.size === undefined ? cut === undefined : offset >= blob.size) return
      if (resumes >= MAX_RESUMES) throw new UpstreamUnreachableError(this.host, cut ?? new Error(`blob ${blob.digest} ended at byte ${offset} of ${blob.size ?? '?'}`))
    }
  }

  private async get (repository: string, path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    let response = await this.send(path, headers, signal)
    if (response.status === 401) {
      const challenge = response.headers.get('www-authenticate')
      await response.body?.cancel()
      if (challenge === null) throw new UpstreamAuthError(this.host, 'HTTP 401 without a challenge')
      this.authorization = await answerChallenge(this.host, parseChallenge(challenge), `repository:${repository}:pull`, this.credentials, signal)
      response = await this.send(path, headers, signal)
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel()
        throw new UpstreamAuthError(this.host, `HTTP ${response.status} with ${this.credentials !== undefined ? `the credentials of ${this.credentials.username}` : 'no credentials'}`)
      }
    }
    if (!response.ok) throw new UpstreamResponseError(this.host, `GET ${path}`, response.status, await errorDetail(this.host, response))
    return response
  }

  private async send (path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        headers: { ...headers, ...(this.authorization !== undefined ? { authorization: this.authorization } : {}) },
        signal
      })
    } catch (err) {
      signal.throwIfAborted()
      throw new UpstreamUnreachableError(this.host, err instanceof Error && err.cause instanceof Error ? err.cause : err)
    }
  }
}
