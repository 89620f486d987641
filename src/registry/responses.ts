/**
 * Writing responses: the distribution-spec headers, and the one function that renders every error as the OCI
 * error JSON (docs/registry.md "What it answers"): `{"errors":[{"code","message","detail"}]}`.
 */
import type { ServerResponse } from 'node:http'
import type { Digest } from '../oci/digest.ts'
import { API_VERSION_HEADER } from './constants.ts'
import { RangeNotSatisfiableError, UnsupportedError, toRegistryError } from './errors.ts'

export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...API_VERSION_HEADER, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(res.req.method === 'HEAD' ? undefined : text)
}

/** Renders any error; a response already under way can only be cut. */
export function sendError (res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const error = toRegistryError(err)
  const headers: Record<string, string> = {}
  if (error instanceof RangeNotSatisfiableError) headers['content-range'] = `bytes */${error.size}`
  if (error instanceof UnsupportedError) headers.allow = 'GET, HEAD'
  const entry = { code: error.code, message: error.message, ...(error.detail !== undefined ? { detail: error.detail } : {}) }
  sendJson(res, error.status, { errors: [entry] }, headers)
}

/** Headers of every manifest and blob answer (docs/registry.md "What it answers"). */
export function contentHeaders (digest: Digest, type: string, length: number): Record<string, string | number> {
  return { ...API_VERSION_HEADER, 'content-type': type, 'content-length': length, 'docker-content-digest': digest, etag: `"${digest}"` }
}
