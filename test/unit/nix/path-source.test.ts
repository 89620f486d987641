/** LocalNixSource: concurrent lookups of one path share one query of the Nix store; a caller may stop waiting. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LocalNixSource, type LocalNix, type PathInfo } from '../../../src/nix/index.ts'

const HASH = '3cqrw6r0j8skpzwa5fhgjwx5jwrgai67'
const PATH = `/nix/store/${HASH}-thing`
const INFO: PathInfo = { path: PATH, narHash: `sha256:${'0'.repeat(52)}`, narSize: 8, references: [], sigs: [] }

/** A LocalNix that answers once `release()` is called, counting the queries it was asked. */
function gatedNix (): { nix: LocalNix, queries: () => number, release: () => void } {
  let queries = 0
  let release = (): void => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const nix = {
    findPathByHashPart: async (hashPart: string) => { queries++; await gate; return hashPart === HASH ? PATH : undefined },
    pathInfos: async () => [INFO],
    existsOnDisk: async () => true
  }
  return { nix: nix as unknown as LocalNix, queries: () => queries, release: () => { release() } }
}

test('concurrent lookups of one path run one query', async () => {
  const { nix, queries, release } = gatedNix()
  const source = new LocalNixSource(nix)
  const lookups = Array.from({ length: 5 }, async () => await source.lookup(HASH))
  release()
  assert.deepEqual(await Promise.all(lookups), Array.from({ length: 5 }, () => INFO))
  assert.equal(queries(), 1)
  assert.deepEqual(await source.lookup(HASH), INFO)
  assert.equal(queries(), 1, 'a later lookup is answered from the cache')
})

test('a caller that aborts stops waiting; the others still get the answer', async () => {
  const { nix, queries, release } = gatedNix()
  const source = new LocalNixSource(nix)
  const controller = new AbortController()
  const leaving = source.lookup(HASH, { signal: controller.signal })
  const staying = source.lookup(HASH)
  controller.abort(new Error('client went away'))
  await assert.rejects(leaving, /client went away/)
  release()
  assert.deepEqual(await staying, INFO)
  assert.equal(queries(), 1)
})

test('a query whose only caller left before it began fails without an unhandled rejection', async () => {
  let fail = (): void => {}
  const failing = new Promise<never>((_resolve, reject) => { fail = () => { reject(new Error('nix failed')) } })
  const nix = { findPathByHashPart: async () => await failing, pathInfos: async () => [], existsOnDisk: async () => true }
  const source = new LocalNixSource(nix as unknown as LocalNix)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  try {
    await assert.rejects(source.lookup(HASH, { signal: AbortSignal.abort(new Error('client went away')) }), /client went away/)
    fail()
    // Unhandled rejections are reported after the microtask queue drains: give it two turns of the event loop.
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  assert.deepEqual(unhandled, [])
})
