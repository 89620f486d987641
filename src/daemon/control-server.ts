/**
 * The control API: HTTP/1.1 over a unix socket in the data dir, mode 0600, so only the local user (and root) can
 * reach it. A route answers with JSON, or streams newline-delimited JSON events ending with `{"done":...}` or
 * `{"error":...}` (progress of a pull, say). The CLI is its only client (`control-client.ts`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { chmod, rm } from 'node:fs/promises'
import { EmergenceError, describeError } from '../util/errors.ts'
import type { Logger } from '../util/logger.ts'
import { DaemonAlreadyRunningError, DaemonNotRunningError } from './errors.ts'
import { controlRequest } from './control-client.ts'

export interface RouteContext {
  body: unknown
  signal: AbortSignal
}

/** A JSON answer, or an async iterable of events streamed as NDJSON; the last value it returns is `done`. */
export type RouteResult = unknown | AsyncGenerator<unknown, unknown>
export type Route = (ctx: RouteContext) => Promise<RouteResult>

/** Routes by `METHOD /path`, e.g. `GET /v1/status`. */
export type Routes = Record<string, Route>

const MAX_BODY = 1024 * 1024

async function readBody (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_BODY) throw new EmergenceError('request body too large', { code: 'BODY_TOO_LARGE' })
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw new EmergenceError('request body is not JSON', { code: 'BODY_INVALID', cause: err })
  }
}

function errorBody (err: unknown): { error: { code: string, message: string } } {
  return { error: { code: err instanceof EmergenceError ? err.code : 'INTERNAL', message: describeError(err) } }
}

function isGenerator (value: unknown): value is AsyncGenerator<unknown, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncGenerator).next === 'function' && Symbol.asyncIterator in value
}

async function handle (routes: Routes, req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  const route = routes[`${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0] ?? '/'}`]
  if (route === undefined) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody(new EmergenceError(`no route ${req.method ?? ''} ${req.url ?? ''}`, { code: 'NOT_FOUND' }))))
    return
  }
  const controller = new AbortController()
  res.on('close', () => { controller.abort() })
  try {
    const result = await route({ body: await readBody(req), signal: controller.signal })
    if (!isGenerator(result)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result ?? null))
      return
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    try {
      let step = await result.next()
      while (step.done !== true) {
        res.write(JSON.stringify({ event: step.value }) + '\n')
        step = await result.next()
      }
      res.end(JSON.stringify({ done: step.value ?? null }) + '\n')
    } catch (err) {
      log.warn(`control request ${req.url ?? ''} failed: ${describeError(err)}`)
      res.end(JSON.stringify(errorBody(err)) + '\n')
    }
  } catch (err) {
    if (!res.headersSent) res.writeHead(err instanceof EmergenceError ? 400 : 500, { 'content-type': 'application/json' })
    res.end(JSON.stringify(errorBody(err)))
  }
}

/**
 * Throws DaemonAlreadyRunningError unless the socket is absent or stale (nothing listening). A daemon that is
 * slow or answers with an error is still a daemon: its socket must not be taken over.
 */
export async function assertNoDaemon (socketPath: string): Promise<void> {
  try {
    await controlRequest(socketPath, 'GET', '/v1/status', { timeoutMs: 5_000 })
  } catch (err) {
    if (err instanceof DaemonNotRunningError) return
  }
  throw new DaemonAlreadyRunningError(socketPath)
}

/** Listens on `socketPath`; refuses to start when another daemon answers there, removes a stale socket. */
export async function startControlServer (socketPath: string, routes: Routes, log: Logger): Promise<Server> {
  await assertNoDaemon(socketPath)
  await rm(socketPath, { force: true })
  const server = createServer((req, res) => { void handle(routes, req, res, log) })
  const previous = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => { server.off('error', reject); resolve() })
    })
  } finally {
    process.umask(previous)
  }
  await chmod(socketPath, 0o600)
  return server
}

export async function stopControlServer (server: Server, socketPath: string): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  await rm(socketPath, { force: true })
}
