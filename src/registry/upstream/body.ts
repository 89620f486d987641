/** Response bodies read into memory only up to a bound (manifests, tokens, error bodies). */
import { UpstreamContentError } from './errors.ts'

export async function readBounded (host: string, response: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? NaN)
  if (declared > limit) {
    await response.body?.cancel()
    throw new UpstreamContentError(host, `${what} is ${declared} bytes, over the ${limit}-byte limit`)
  }
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength
    if (total > limit) throw new UpstreamContentError(host, `${what} is over the ${limit}-byte limit`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The first OCI error of an error body, as `CODE: message`, or nothing. */
export async function errorDetail (host: string, response: Response): Promise<string> {
  try {
    const body = JSON.parse((await readBounded(host, response, 64 * 1024, 'error body')).toString('utf8')) as { errors?: Array<{ code?: unknown, message?: unknown }> }
    const first = body.errors?.[0]
    return first !== undefined ? `${String(first.code)}: ${String(first.message)}`.slice(0, 300) : ''
  } catch {
    return ''
  }
}
