/**
 * The fast path of routing (docs/protocol.md §7 "Finding peers"): instead of waiting for the DHT, ask every
 * connected peer HAVE at once. In a small cluster every node is connected to every other, so this finds all
 * holders in one round trip; the peers they name in their answers (peer exchange) are yielded too, after the
 * holders that answered themselves. provide/withdraw do nothing: HAVE is answered from the holdings directly.
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Digest } from '../../oci/digest.ts'
import type { ExchangeClient } from '../protocol/client.ts'
import type { PexPeer } from '../protocol/codec.ts'
import type { Routing } from './routing.ts'

export interface PexRoutingComponents {
  /** The peers this node is connected to now. */
  getPeers: () => PeerId[]
  client: Pick<ExchangeClient, 'have'>
  peerId: PeerId
  /** Records a peer-exchange entry's addresses; returns its id, or undefined for garbage. */
  learn: (entry: PexPeer) => PeerId | undefined
}

export interface PexRoutingInit {
  /** How long to wait for each peer's HAVE. @default 3 s */
  timeoutMs?: number
}

export class PeerExchangeRouting implements Routing {
  private readonly components: PexRoutingComponents
  private readonly timeoutMs: number

  constructor (components: PexRoutingComponents, init: PexRoutingInit = {}) {
    this.components = components
    this.timeoutMs = init.timeoutMs ?? 3_000
  }

  async provide (): Promise<void> {}

  async withdraw (): Promise<void> {}

  async * findProviders (digest: Digest, options: AbortOptions = {}): AsyncIterable<PeerId> {
    const self = this.components.peerId
    const asked = this.components.getPeers().filter(p => !p.equals(self))
    const named = new Map<string, PeerId>()
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const signal = options.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout
    const answers = asked.map(async peer => {
      try {
        const answer = await this.components.client.have(peer, digest, { signal })
        for (const entry of answer.peers) {
          const id = this.components.learn(entry)
          if (id !== undefined) named.set(id.toString(), id)
        }
        return answer.have ? peer : undefined
      } catch {
        return undefined
      }
    })
    for await (const peer of asTheyCome(answers)) {
      if (peer !== undefined) yield peer
    }
    options.signal?.throwIfAborted()
    const askedKeys = new Set(asked.map(p => p.toString()))
    for (const [key, peer] of named) {
      if (!askedKeys.has(key) && !peer.equals(self)) yield peer
    }
  }
}

/** Yields the values of promises in the order they settle. */
async function * asTheyCome<T> (promises: Array<Promise<T>>): AsyncIterable<T> {
  const pending = new Map(promises.map((p, i) => [i, p.then(value => ({ i, value }))]))
  while (pending.size > 0) {
    const { i, value } = await Promise.race(pending.values())
    pending.delete(i)
    yield value
  }
}
