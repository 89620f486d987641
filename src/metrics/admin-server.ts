/**
 * The admin HTTP endpoint (docs/operations.md "Monitoring"), loopback by default: `GET /metrics` (Prometheus
 * text), `/healthz` (200 while the process answers), `/readyz` (200 once every readiness check passes, 503
 * before, with the checks as JSON either way). Nothing else; every other path is 404, every other method 405.
 */
import { createServer, type ServerResponse } from 'node:http'
import { isErrno } from '../util/errors.ts'
import { listenHttp, type ListeningServer } from '../util/http-server.ts'
import { AdminAddressInUseError } from './errors.ts'
import type { NodeMetrics } from './node-metrics.ts'

export interface AdminServerInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  port?: number
  metrics: Pick<NodeMetrics, 'scrape'>
  /** Named readiness checks (`store`, `p2p`, ...), all of which must hold for `/readyz` to answer 200. */
  readiness: () => Record<string, boolean>
  /** Close a connection idle this long. @default 30 s */
  idleTimeoutMs?: number
}

function send (res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

/** Starts the endpoint; an address in use is an AdminAddressInUseError. */
export async function startAdminServer (init: AdminServerInit): Promise<ListeningServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n')
    if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n')
    if (path === '/readyz') {
      const checks = init.readiness()
      const ready = Object.values(checks).every(Boolean)
      return send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ ready, checks }) + '\n')
    }
    if (path !== '/metrics') return send(res, 404, 'text/plain', 'not found: /metrics, /healthz, /readyz\n')
    init.metrics.scrape().then(
      ({ body, contentType }) => { send(res, 200, contentType, body) },
      (err: unknown) => { send(res, 500, 'text/plain', `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`) }
    )
  })
  server.setTimeout(init.idleTimeoutMs ?? 30_000, socket => { socket.destroy() })
  const host = init.host ?? '127.0.0.1'
  const port = init.port ?? 0
  try {
    return await listenHttp(server, host, port)
  } catch (err) {
    if (isErrno(err, 'EADDRINUSE')) throw new AdminAddressInUseError(`${host.includes(':') ? `[${host}]` : host}:${port}`)
    throw err
  }
}
