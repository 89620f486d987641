import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Digest } from '../../../src/oci/digest.ts'
import { DeferredAnnouncer } from '../../../src/p2p/routing/deferred-announcer.ts'
import { silentLogger } from '../../../src/util/logger.ts'

const A = `sha256:${'a'.repeat(64)}` as Digest
const B = `sha256:${'b'.repeat(64)}` as Digest

async function until (check: () => boolean): Promise<void> {
  while (!check()) await new Promise(resolve => setTimeout(resolve, 10))
}

test('announcements wait while a batch runs, then go out one at a time', async () => {
  const announced: Digest[] = []
  let inFlight = 0
  let most = 0
  const announcer = new DeferredAnnouncer(async digest => {
    most = Math.max(most, ++inFlight)
    await new Promise(resolve => setTimeout(resolve, 5))
    announced.push(digest)
    inFlight--
  }, silentLogger)
  let finish = (): void => {}
  const batch = announcer.during(async () => { await new Promise<void>(resolve => { finish = resolve }) })
  announcer.add(A)
  announcer.add(B)
  announcer.add(A)
  // Nothing goes out while the batch runs, however long it runs.
  await new Promise(resolve => setTimeout(resolve, 400))
  assert.deepEqual(announced, [])
  assert.equal(announcer.waiting, 2)
  finish()
  await batch
  await until(() => announced.length === 2)
  assert.deepEqual(announced, [A, B])
  assert.equal(most, 1)
  assert.equal(announcer.waiting, 0)
})

test('a failed announcement is logged, not thrown, and the others still go out', async () => {
  const announced: Digest[] = []
  const announcer = new DeferredAnnouncer(async digest => {
    if (digest === A) throw new Error('no DHT peers')
    announced.push(digest)
  }, silentLogger)
  announcer.add(A)
  announcer.add(B)
  await until(() => announced.length === 1)
  assert.deepEqual(announced, [B])
})
