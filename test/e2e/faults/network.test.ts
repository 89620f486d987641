/**
 * Network faults on network-namespace hosts, one `emergence node start` process per host: a provider SIGKILLed
 * while a large blob moves, a partition that heals, a slow lossy link. Each case ends with `store verify` clean
 * on every node and every completed image intact. Needs root (namespaces, tc, iptables).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { NodeStatus } from '../../../src/daemon/daemon.ts'
import { fileFixture } from '../../helpers/temp.ts'
import { assertAbsent, assertAllIntact, buildImages, failed, pulled, startSwarm } from './images.ts'
import { Lab, control, waitFor, type HostNode } from './lab.ts'

const PFX = 'embfn'
const MiB = 1024 * 1024
const images = fileFixture(async dir => await buildImages(dir, { big: 24, small: 6 }), 'emergence-faults-')

async function status (node: HostNode): Promise<NodeStatus> {
  return await control<NodeStatus>(node, '/v1/status')
}

test('a provider SIGKILLed while a large blob moves: the pull completes from the others', async t => {
  const { big } = await images()
  const lab = await Lab.open(t, PFX, 4)
  const { seeds, puller } = await startSwarm(lab, [big])
  // 3 x 40 mbit: the 24 MiB layer takes about 2 s, long enough to kill a provider in the middle of it.
  for (const seed of seeds) await lab.shape(seed.host, { up: '40mbit' })
  const doomed = seeds[1] as HostNode
  const pulling = puller.cli(['pull', big.ref], { json: true })
  await waitFor('the doomed provider to serve 2 MiB', async () => (await status(doomed)).servedBytes >= 2 * MiB)
  await lab.kill(doomed)
  const result = pulled(await pulling)
  assert.equal(result.descriptor.digest, big.digest)
  const fromDoomed = result.fromPeers[doomed.peerId] ?? 0
  const fromOthers = seeds.filter(s => s !== doomed).reduce((sum, s) => sum + (result.fromPeers[s.peerId] ?? 0), 0)
  t.diagnostic(`the killed provider sent ${fromDoomed} bytes, the others ${fromOthers}`)
  assert.ok(fromDoomed < big.layer.size, `the killed provider sent ${fromDoomed} bytes`)
  assert.ok(fromOthers >= big.layer.size - fromDoomed, `the others sent ${fromOthers} bytes`)
  await assertAllIntact([...seeds, puller], [big])
})

test('a partition that heals: the pull stalls or fails cleanly, and completes once the link is back', async t => {
  const { big } = await images()
  const lab = await Lab.open(t, PFX, 3)
  const { seeds, puller } = await startSwarm(lab, [big])
  for (const seed of seeds) await lab.shape(seed.host, { up: '40mbit' })
  const pulling = puller.cli(['pull', big.ref], { json: true })
  await waitFor('4 MiB to arrive', async () => (await status(puller)).receivedBytes >= 4 * MiB)
  await lab.setLink(puller.host, false)
  // The cut holds until the puller has received nothing for 2 s: the pull has stalled (what was in flight drained).
  let last = -1
  let since = Date.now()
  await waitFor('the pull to stall', async () => {
    const received = (await status(puller)).receivedBytes
    if (received !== last) { last = received; since = Date.now() }
    return Date.now() - since >= 2_000
  }, 30_000)
  assert.ok(last < big.layer.size, `stalled at ${last} bytes`)
  await lab.setLink(puller.host, true)
  const first = await pulling
  t.diagnostic(`stalled at ${last} bytes; the pull after the heal exited ${String(first.status)}`)
  if (first.status !== 0) {
    failed(first)
    await assertAbsent(puller, big)
    pulled(await puller.cli(['pull', big.ref], { json: true }))
  }
  await assertAllIntact([...seeds, puller], [big])
})

test('a slow lossy link (100 ms, 5% loss) on the puller: the pull completes, verified', async t => {
  const { small } = await images()
  const lab = await Lab.open(t, PFX, 3)
  const { seeds, puller } = await startSwarm(lab, [small])
  t.diagnostic(`impaired with ${await lab.impair(puller.host)}`)
  const started = Date.now()
  const result = pulled(await puller.cli(['pull', small.ref], { json: true }))
  t.diagnostic(`pulled ${result.fetchedBytes} bytes in ${Date.now() - started} ms`)
  assert.equal(result.descriptor.digest, small.digest)
  await assertAllIntact([...seeds, puller], [small])
})
