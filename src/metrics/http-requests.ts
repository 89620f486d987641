/**
 * Counts the requests an HTTP endpoint answers by listening beside its handler (a second `request` listener),
 * so the Nix binary cache and the registry mirror need no change to be measured.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

export type RequestKind = string

/** Calls `count(kind, status)` once per request when its response ends; status 0: the client went away first. */
export function observeRequests (server: Server, kindOf: (path: string) => RequestKind, count: (kind: RequestKind, status: number) => void): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const kind = kindOf((req.url ?? '/').split('?')[0] ?? '/')
    res.once('close', () => { count(kind, res.writableFinished ? res.statusCode : 0) })
  })
}
