/**
 * A registry front that records every request and passes it, `Range` included, to the registry behind it. With
 * `cutAt`, it breaks the first download of every larger blob partway (the headers promise the whole blob, the
 * connection closes after `cutAt` bytes): a flaky link for the resume path of the registry client.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { TestContext } from 'node:test'
import { listenHttp } from '../../../src/util/http-server.ts'

export interface RegistryProxy {
  host: string
  /** `METHOD path` of every request, in order. */
  requests: string[]
  cuts: number
  ranges: string[]
}

async function forward (upstream: string, req: IncomingMessage, res: ServerResponse, cutAt: number | undefined, onCut: () => void): Promise<void> {
  const answer = await fetch(`http://${upstream}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers: Object.fromEntries(['accept', 'range'].flatMap(name => typeof req.headers[name] === 'string' ? [[name, req.headers[name]]] : []))
  })
  const headers: Record<string, string> = {}
  for (const name of ['content-type', 'content-length', 'content-range', 'docker-content-digest']) {
    const value = answer.headers.get(name)
    if (value !== null) headers[name] = value
  }
  res.writeHead(answer.status, headers)
  let sent = 0
  for await (const chunk of answer.body ?? []) {
    if (cutAt !== undefined && sent + chunk.byteLength > cutAt) {
      // Let the half go out, then break the connection: the client sees a body shorter than its length.
      await new Promise(resolve => res.write(chunk.subarray(0, cutAt - sent), resolve))
      onCut()
      res.socket?.destroy()
      return
    }
    sent += chunk.byteLength
    res.write(chunk)
  }
  res.end()
}

export async function startProxy (t: TestContext, upstream: string, options: { cutAt?: number } = {}): Promise<RegistryProxy> {
  const { cutAt } = options
  const state: RegistryProxy = { host: '', requests: [], cuts: 0, ranges: [] }
  const cut = new Set<string>()
  const server = createServer((req, res) => {
    state.requests.push(`${req.method ?? '?'} ${req.url ?? '?'}`)
    const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')?.[1]
    if (typeof req.headers.range === 'string') state.ranges.push(req.headers.range)
    const first = cutAt !== undefined && blob !== undefined && req.headers.range === undefined && !cut.has(blob)
    if (first) cut.add(blob)
    forward(upstream, req, res, first ? cutAt : undefined, () => { state.cuts++ }).catch(() => { res.destroy() })
  })
  const listening = await listenHttp(server, '127.0.0.1', 0)
  t.after(async () => { await listening.close() })
  state.host = listening.url.slice('http://'.length)
  return state
}
