/**
 * Cluster sync and bootstrap across hosts (network namespaces, one `emergence node start` process and data dir
 * per host): an image added on host 1 reaches hosts 2-5, which pull it at the same time and feed each other;
 * then host 1, the only origin, is killed, and a sixth host started with one bootstrap address (host 3) and
 * nothing else learns the desired set from that peer and pulls the image from the others. Needs root.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TransferCounters } from '../../src/p2p/stats.ts'
import type { SyncStatus } from '../../src/sync/index.ts'
import { fileFixture } from '../helpers/temp.ts'
import { assertAllIntact, buildImages, importImages } from './faults/images.ts'
import { Lab, control, waitFor, type HostNode } from './faults/lab.ts'

const PFX = 'embs'
const images = fileFixture(async dir => await buildImages(dir, { app: 8 }), 'emergence-sync-')

async function inSync (node: HostNode, ref: string): Promise<boolean> {
  const status = await control<SyncStatus>(node, '/v1/sync/status')
  return status.inSync && status.items.some(i => i.key === ref && i.state === 'held')
}

/** Bytes received from peers other than `origin`. */
async function fromOthers (node: HostNode, origin: HostNode): Promise<number> {
  const counters = await control<TransferCounters>(node, '/v1/counters')
  return Object.entries(counters.received).filter(([peer]) => peer !== origin.peerId).reduce((sum, [, bytes]) => sum + bytes, 0)
}

test('an image added on host 1 reaches every host; a sixth host joins late and syncs from peers alone', async t => {
  const { app } = await images()
  const lab = await Lab.open(t, PFX, 6)
  await importImages(`${lab.work}/${lab.host(1).ns}`, [app])
  const origin = await lab.start(lab.host(1))
  const others = await Promise.all([2, 3, 4, 5].map(async i => await lab.start(lab.host(i), { bootstrap: [origin], trusted: [origin] })))

  // Host 1's upload is the narrow link, as an origin's is: the others get the layer sooner from each other.
  await lab.shape(origin.host, { up: '80mbit' })
  const added = await origin.cli(['sync', 'add', app.ref], { json: true })
  assert.equal(added.status, 0, added.stderr)
  for (const node of others) await waitFor(`${app.ref} on ${node.host.ns}`, async () => await inSync(node, app.ref))
  await assertAllIntact([origin, ...others], [app])
  const swarmed = await Promise.all(others.map(async node => await fromOthers(node, origin)))
  t.diagnostic(`bytes hosts 2-5 received from peers other than host 1: ${swarmed.join(', ')}`)
  assert.ok(swarmed.some(bytes => bytes > 0), 'hosts 2-5 fed each other, not all from host 1')

  // Host 1 goes away: the sixth host knows only host 3's address, and no registry.
  await lab.kill(origin)
  const late = await lab.start(lab.host(6), { bootstrap: [others[1] as HostNode], trusted: [origin] })
  await waitFor(`${app.ref} on the late host`, async () => await inSync(late, app.ref))
  await assertAllIntact([late], [app])
  const status = await control<SyncStatus>(late, '/v1/sync/status')
  assert.equal(status.documents[origin.peerId] !== undefined, true, 'host 1\'s document, verified with its key, learned from a peer')
  assert.ok(await fromOthers(late, origin) >= app.layer.size, 'the late host pulled the image from hosts 2-5')
  const waited = await late.cli(['sync', 'status', '--wait', '--timeout', '5'])
  assert.equal(waited.status, 0, waited.stderr)
  assert.match(waited.stdout, /in sync: 1 item\(s\) held/)
})
