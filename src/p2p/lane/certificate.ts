/**
 * The lane's certificates (docs/protocol.md §9.2): each end presents a self-signed certificate carrying its
 * libp2p public key and that key's signature over the certificate key (the libp2p TLS spec's extension, as
 * `@libp2p/tls` makes and checks them). TLS 1.3 then proves that the end holds the certificate key, so a
 * verified certificate proves the libp2p peer id. The helpers are loaded on first use: they bring an X.509 and
 * ASN.1 stack the CLI does not need.
 */
import type { TLSSocket } from 'node:tls'
import type { PrivateKey } from '@libp2p/interface'
import { describeError } from '../../util/errors.ts'
import { LaneIdentityError } from './errors.ts'

export interface LaneCredentials {
  /** PEM certificate and its PEM private key (a fresh P-256 key, signed by the libp2p identity). */
  cert: string
  key: string
}

export async function makeLaneCredentials (identity: PrivateKey, signal?: AbortSignal): Promise<LaneCredentials> {
  const { generateCertificate } = await import('@libp2p/tls/utils')
  return await generateCertificate(identity, signal !== undefined ? { signal } : {})
}

/**
 * The peer id the other end of a TLS socket proved; with `expected`, anything else throws LaneIdentityError.
 * Call it after the handshake ('secure' / 'secureConnect'), before a byte of the lane protocol is sent.
 */
export async function provenPeer (socket: TLSSocket, expected?: string): Promise<string> {
  const raw = socket.getPeerCertificate(false)?.raw
  const who = expected ?? 'the remote'
  if (raw === undefined || raw.byteLength === 0) throw new LaneIdentityError(who, 'no certificate was presented')
  const { verifyPeerCertificate } = await import('@libp2p/tls/utils')
  let peer: string
  try {
    peer = (await verifyPeerCertificate(raw)).toString()
  } catch (err) {
    throw new LaneIdentityError(who, `not a libp2p certificate (${describeError(err)})`, err)
  }
  if (expected !== undefined && peer !== expected) throw new LaneIdentityError(expected, `it names peer ${peer}`)
  return peer
}
