/**
 * A routing that reports how each provider lookup went (docs/operations.md "Monitoring"): the time until the
 * first provider came, or until the search ended with none, and whether any came. Lookups the caller aborted
 * before an answer are not reported: they say nothing about the network.
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Digest } from '../../oci/digest.ts'
import type { TransferStats } from '../stats.ts'
import type { Routing } from './routing.ts'

export class CountedRouting implements Routing {
  private readonly inner: Routing
  private readonly stats: Pick<TransferStats, 'lookupDone'>

  constructor (inner: Routing, stats: Pick<TransferStats, 'lookupDone'>) {
    this.inner = inner
    this.stats = stats
  }

  async provide (digest: Digest, options?: AbortOptions): Promise<void> {
    await this.inner.provide(digest, options)
  }

  async withdraw (digest: Digest, options?: AbortOptions): Promise<void> {
    await this.inner.withdraw(digest, options)
  }

  async * findProviders (digest: Digest, options: AbortOptions = {}): AsyncIterable<PeerId> {
    const started = performance.now()
    let reported = false
    const report = (found: boolean): void => {
      if (reported) return
      reported = true
      this.stats.lookupDone((performance.now() - started) / 1000, found)
    }
    try {
      for await (const peer of this.inner.findProviders(digest, options)) {
        report(true)
        yield peer
      }
      report(false)
    } catch (err) {
      if (options.signal?.aborted !== true) report(false)
      throw err
    }
  }
}
