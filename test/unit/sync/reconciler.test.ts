/** The reconciler over a fake fetcher: pulls what is missing a few at a time, retries failures, stops removed items. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DesiredItem } from '../../../src/sync/document.ts'
import { Reconciler, type SyncFetcher } from '../../../src/sync/reconciler.ts'
import type { SyncItem } from '../../../src/sync/item.ts'
import { waitFor } from '../../e2e/faults/lab.ts'

function desired (...refs: string[]): Map<string, DesiredItem> {
  return new Map(refs.map(ref => {
    const item: SyncItem = { kind: 'image', ref, digest: `sha256:${'c'.repeat(64)}` }
    return [ref, { key: ref, item, publisher: 'P', version: 1 }]
  }))
}

/** Holds what it pulled; fails the first `failures[ref]` pulls of a ref; `gate` holds pulls until opened. */
class FakeFetcher {
  readonly held = new Set<string>()
  readonly failures: Record<string, number> = {}
  readonly pulls: string[] = []
  running = 0
  maxRunning = 0
  aborted: string[] = []
  gate: PromiseWithResolvers<void> | undefined

  readonly fetcher: SyncFetcher = {
    held: async item => this.held.has(this.key(item)),
    pull: async (item, { signal, onProgress }) => {
      const key = this.key(item)
      this.pulls.push(key)
      this.running++
      this.maxRunning = Math.max(this.maxRunning, this.running)
      try {
        if (this.gate !== undefined) {
          const onAbort = (): void => { this.aborted.push(key); this.gate?.reject(signal.reason) }
          signal.addEventListener('abort', onAbort, { once: true })
          await this.gate.promise
        }
        if ((this.failures[key] ?? 0) > 0) {
          this.failures[key] = (this.failures[key] ?? 0) - 1
          throw new Error('no peer has it yet')
        }
        onProgress(10, 10)
        this.held.add(key)
      } finally {
        this.running--
      }
    }
  }

  key (item: SyncItem): string { return item.kind === 'image' ? item.ref : item.path }
}

describe('Reconciler', () => {
  it('pulls every missing item, at most `concurrency` at once, and says when all are held', async () => {
    const fake = new FakeFetcher()
    fake.held.add('a:1')
    let allHeld = 0
    const reconciler = new Reconciler({ fetcher: fake.fetcher, concurrency: 2, onAllHeld: () => { allHeld++ } })
    reconciler.update(desired('a:1', 'b:1', 'c:1', 'd:1', 'e:1'))
    await waitFor('every item held', () => reconciler.holdsAll(), 10_000)
    reconciler.stop()
    assert.deepEqual(fake.pulls.sort(), ['b:1', 'c:1', 'd:1', 'e:1'])
    assert.ok(fake.maxRunning <= 2, `${fake.maxRunning} pulls ran at once`)
    assert.equal(allHeld, 1)
    assert.deepEqual(reconciler.status().map(s => [s.key, s.state, s.bytesDone]), [['a:1', 'held', 0], ['b:1', 'held', 10], ['c:1', 'held', 10], ['d:1', 'held', 10], ['e:1', 'held', 10]])
  })

  it('retries a failed pull with backoff and reports the failure meanwhile', async () => {
    const fake = new FakeFetcher()
    fake.failures['a:1'] = 2
    const reconciler = new Reconciler({ fetcher: fake.fetcher, retryBaseMs: 400, retryMaxMs: 400 })
    reconciler.update(desired('a:1'))
    await waitFor('a failure reported', () => reconciler.status()[0]?.state === 'failed', 10_000)
    assert.match(reconciler.status()[0]?.error ?? '', /no peer has it yet/)
    await waitFor('the item held after retries', () => reconciler.holdsAll(), 10_000)
    reconciler.stop()
    assert.deepEqual(fake.pulls, ['a:1', 'a:1', 'a:1'])
    assert.equal(reconciler.status()[0]?.attempts, 0)
  })

  it('stops the pull of an item that left the set', async () => {
    const fake = new FakeFetcher()
    fake.gate = Promise.withResolvers()
    fake.gate.promise.catch(() => {})
    const reconciler = new Reconciler({ fetcher: fake.fetcher })
    reconciler.update(desired('a:1'))
    await waitFor('the pull started', () => reconciler.status()[0]?.state === 'pulling', 10_000)
    reconciler.update(desired())
    assert.deepEqual(fake.aborted, ['a:1'])
    assert.deepEqual(reconciler.status(), [])
    assert.equal(reconciler.holdsAll(), true)
    reconciler.stop()
  })
})
