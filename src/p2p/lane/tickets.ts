/**
 * Lane tickets: a server hands one to a peer over its libp2p connection (the offer), and the peer must show it
 * on the lane with a certificate for the same peer id. A lane thus belongs to a peer that asked for it over an
 * authenticated, allow-listed libp2p connection, not merely to whoever holds a libp2p key. Single use, short
 * lived, a few per peer: the book stays small whatever a peer asks.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { MAX_TICKETS_PER_PEER, TICKET_BYTES, TICKET_TTL_MS } from './constants.ts'

interface Ticket {
  bytes: Buffer
  expires: number
  /** Issued for a plaintext lane (docs/protocol.md §9.5): redeemed by `redeemPlain`, never on a TLS lane. */
  plaintext: boolean
}

export class TicketBook {
  private readonly byPeer = new Map<string, Ticket[]>()
  private readonly ttlMs: number

  constructor (ttlMs = TICKET_TTL_MS) {
    this.ttlMs = ttlMs
  }

  issue (peer: string, options: { plaintext?: boolean } = {}): Buffer {
    const now = Date.now()
    const live = (this.byPeer.get(peer) ?? []).filter(t => t.expires > now)
    const ticket = { bytes: randomBytes(TICKET_BYTES), expires: now + this.ttlMs, plaintext: options.plaintext ?? false }
    live.push(ticket)
    this.byPeer.set(peer, live.slice(-MAX_TICKETS_PER_PEER))
    this.sweep(now)
    return ticket.bytes
  }

  /** True (once) when `bytes` is a live ticket issued to `peer` for a TLS lane. */
  redeem (peer: string, bytes: Uint8Array): boolean {
    return this.take(peer, bytes, false)
  }

  /**
   * The peer a live plaintext-lane ticket was issued to (once), or undefined. A plaintext lane has no certificate:
   * the ticket, handed over the peer's libp2p connection, is all that names its peer.
   */
  redeemPlain (bytes: Uint8Array): string | undefined {
    for (const peer of this.byPeer.keys()) if (this.take(peer, bytes, true)) return peer
    return undefined
  }

  private take (peer: string, bytes: Uint8Array, plaintext: boolean): boolean {
    const now = Date.now()
    const tickets = this.byPeer.get(peer) ?? []
    const at = tickets.findIndex(t => t.expires > now && t.plaintext === plaintext && t.bytes.byteLength === bytes.byteLength && timingSafeEqual(t.bytes, bytes))
    if (at === -1) return false
    tickets.splice(at, 1)
    if (tickets.length === 0) this.byPeer.delete(peer)
    return true
  }

  private sweep (now: number): void {
    if (this.byPeer.size < 1024) return
    for (const [peer, tickets] of this.byPeer) if (tickets.every(t => t.expires <= now)) this.byPeer.delete(peer)
  }
}
