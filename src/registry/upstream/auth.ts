/**
 * Answering a registry's `WWW-Authenticate` challenge (RFC 9110 §11.6.1; distribution's token flow,
 * docs/registry.md "Pulling from a registry"): `Basic` sends the credentials;
 * `Bearer realm=...,service=...,scope=...` fetches a token from the realm (with the credentials as Basic auth when
 * there are any, anonymously otherwise) and sends that. The answer is kept for the client's later requests.
 */
import { z } from 'zod'
import { readBounded } from './body.ts'
import { UpstreamAuthError } from './errors.ts'
import type { Credentials } from './credentials.ts'

export interface Challenge {
  scheme: string
  params: Record<string, string>
}

/** Parses `Scheme key="value", key=value` (one challenge; the first when several are given). */
export function parseChallenge (header: string): Challenge {
  const trimmed = header.trim()
  const space = trimmed.indexOf(' ')
  const scheme = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase()
  const params: Record<string, string> = {}
  for (const match of trimmed.slice(space + 1).matchAll(/([a-zA-Z_]+)=(?:"([^"]*)"|([^\s,]*))/g)) {
    const key = (match[1] ?? '').toLowerCase()
    if (!(key in params)) params[key] = match[2] ?? match[3] ?? ''
  }
  return { scheme, params }
}

const tokenSchema = z.object({ token: z.string().optional(), access_token: z.string().optional() })

function basic (credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
}

/** The `Authorization` header that answers `challenge` for `scope` (e.g. `repository:library/busybox:pull`). */
export async function answerChallenge (host: string, challenge: Challenge, scope: string, credentials: Credentials | undefined, signal: AbortSignal): Promise<string> {
  if (challenge.scheme === 'basic') {
    if (credentials === undefined) throw new UpstreamAuthError(host, 'the registry wants a user name and password (--username, or a docker config.json)')
    return basic(credentials)
  }
  if (challenge.scheme !== 'bearer') throw new UpstreamAuthError(host, `unsupported authentication scheme ${JSON.stringify(challenge.scheme)}`)
  const realm = challenge.params.realm
  if (realm === undefined || !/^https?:\/\//.test(realm)) throw new UpstreamAuthError(host, 'the Bearer challenge names no token realm')
  const url = new URL(realm)
  if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service)
  url.searchParams.set('scope', challenge.params.scope ?? scope)
  let response: Response
  try {
    response = await fetch(url, { headers: credentials !== undefined ? { authorization: basic(credentials) } : {}, signal })
  } catch (err) {
    signal.throwIfAborted()
    throw new UpstreamAuthError(host, `token service ${url.host}: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new UpstreamAuthError(host, `token service ${url.host} answered HTTP ${response.status}${credentials === undefined ? ' (no credentials given)' : ''}`)
  }
  const body = await readBounded(host, response, 1024 * 1024, 'token response')
  let json: unknown
  try {
    json = JSON.parse(body.toString('utf8'))
  } catch {
    json = undefined
  }
  const parsed = tokenSchema.safeParse(json)
  const token = parsed.success ? parsed.data.token ?? parsed.data.access_token : undefined
  if (token === undefined || token === '') throw new UpstreamAuthError(host, `token service ${url.host} gave no token`)
  return `Bearer ${token}`
}
