/**
 * A registry front that wants Bearer tokens, as Docker Hub does: 401 with a `WWW-Authenticate: Bearer` challenge
 * until a token from its `/token` realm (given only for the right Basic credentials) comes with the request;
 * then the request goes to the registry behind it.
 */
import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { TestContext } from 'node:test'
import { listenHttp } from '../../../src/util/http-server.ts'

const TOKEN = 'test-token-1'

export async function startTokenProxy (t: TestContext, upstream: string, user: { name: string, password: string }): Promise<{ host: string, tokenRequests: number }> {
  const state = { host: '', tokenRequests: 0 }
  const basic = `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url?.startsWith('/token') === true) {
        state.tokenRequests++
        const ok = req.headers.authorization === basic && new URL(req.url, 'http://x').searchParams.get('scope') === 'repository:app/web:pull'
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
        res.end(JSON.stringify(ok ? { token: TOKEN } : { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }))
        return
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${state.host}/token",service="test"`, 'content-type': 'application/json' })
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'token needed' }] }))
        return
      }
      const answer = await fetch(`http://${upstream}${req.url ?? '/'}`, { headers: { accept: req.headers.accept ?? '*/*' } })
      const headers: Record<string, string> = {}
      for (const name of ['content-type', 'content-length', 'docker-content-digest']) {
        const value = answer.headers.get(name)
        if (value !== null) headers[name] = value
      }
      res.writeHead(answer.status, headers)
      if (answer.body === null) res.end()
      else Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>).pipe(res)
    })().catch(() => { res.destroy() })
  })
  const listening = await listenHttp(server, '127.0.0.1', 0)
  t.after(async () => { await listening.close() })
  state.host = listening.url.slice('http://'.length)
  return state
}
