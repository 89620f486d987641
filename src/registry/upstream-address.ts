/** The upstream registries a node's mirror pulls through from (`registryUpstreams`), as configured. */
import { InvalidUpstreamError } from './errors.ts'

export interface Upstream {
  /** `host[:port]` as clients name it (`docker.io`). */
  registry: string
  /** Where its API answers (`registry-1.docker.io`). */
  apiHost: string
  plainHttp: boolean
}

/** `docker.io`, `ghcr.io`, `https://10.0.0.5:5000` or `http://127.0.0.1:5000` (plain HTTP). */
export function parseUpstream (value: string): Upstream {
  const match = /^(?:(https?):\/\/)?([a-zA-Z0-9.-]+(?::\d{1,5})?)\/?$/.exec(value.trim())
  if (match?.[2] === undefined) throw new InvalidUpstreamError(value)
  const registry = match[2]
  return { registry, apiHost: registry === 'docker.io' ? 'registry-1.docker.io' : registry, plainHttp: match[1] === 'http' }
}
