/** The loopback HTTP endpoints a node runs (the Nix binary cache, the registry mirror): listen, name, close. */
import type { Server } from 'node:http'

export interface ListeningServer {
  /** `http://host:port` (IPv6 hosts in brackets). */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Cuts open connections and resolves once the server has closed. */
  close: () => Promise<void>
}

/** Starts `server` on `host:port` (port 0: any free port) and resolves once it listens. */
export async function listenHttp (server: Server, host: string, port: number): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    server,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
