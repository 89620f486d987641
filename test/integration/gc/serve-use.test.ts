/**
 * Serving an image counts as a use for the automatic GC's least-recently-used order (docs/operations.md
 * "Automatic GC"): a tag a peer resolves on this node, and a manifest its registry mirror serves, move the
 * image's last use to now. Real nodes on loopback, a real pull and a real HTTP client.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { readUsage, recordUse } from '../../../src/gc/usage.ts'
import { storeRoot } from '../../../src/store/paths.ts'
import { Store } from '../../../src/store/store.ts'
import { startNode, stopAll, type ClusterNode } from '../../../scripts/lib/cluster.ts'
import { freePort } from '../../../scripts/lib/ports.ts'
import { putImage } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { waitFor } from '../../e2e/faults/lab.ts'

const LONG_AGO = new Date(Date.now() - 24 * 3_600_000)

test('a tag resolved by a peer and a manifest served by the mirror are uses of the image', async t => {
  const work = await tempDir(t)
  const holderDir = join(work, 'holder')
  const store = await Store.open(storeRoot(holderDir))
  const image = await putImage(store, ['served layer'], 'served')
  await store.refs.set('app/served:1', image.manifest)
  const root = image.manifest.digest
  const lastUse = async (): Promise<number> => (await readUsage(store)).get(root) ?? 0
  await recordUse(store, [root], LONG_AGO)

  const nodes: ClusterNode[] = []
  t.after(async () => { await stopAll(nodes) })
  const mirror = `127.0.0.1:${await freePort()}`
  const holder = await startNode({ dataDir: holderDir, extraArgs: ['--nix-cache', 'off', '--admin', 'off', '--lane-port', 'off', '--registry', mirror] })
  nodes.push(holder)
  const puller = await startNode({ dataDir: join(work, 'puller'), bootstrap: [holder.address], trusted: [holder.peerId], extraArgs: ['--nix-cache', 'off', '--admin', 'off', '--lane-port', 'off', '--registry', 'off'] })
  nodes.push(puller)

  const pulled = await puller.cli(['pull', 'app/served:1'])
  assert.equal(pulled.status, 0, pulled.stderr)
  await waitFor('the resolve to count as a use', async () => await lastUse() > LONG_AGO.getTime(), 10_000)

  await recordUse(store, [root], LONG_AGO)
  const response = await fetch(`http://${mirror}/v2/app/served/manifests/1`, { headers: { accept: image.manifest.mediaType } })
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('docker-content-digest'), root)
  await waitFor('the mirror\'s answer to count as a use', async () => await lastUse() > LONG_AGO.getTime(), 10_000)
})
