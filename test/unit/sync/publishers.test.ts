/** Who a node accepts documents from: `syncPublishers` as configured (peer ids only), else itself and its trusted peers. */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadConfig } from '../../../src/daemon/config.ts'
import { syncPublishers } from '../../../src/sync/node-side.ts'
import { tempDir } from '../../helpers/temp.ts'

test('syncPublishers: the configured list, else this node and its trusted peers', async t => {
  const p1 = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  assert.deepEqual(syncPublishers('self', undefined, ['t1', 't2']), ['self', 't1', 't2'])
  assert.deepEqual(syncPublishers('self', [p1, p1], ['t1']), [p1])
  assert.deepEqual(syncPublishers('self', [], ['t1']), [])
  assert.throws(() => syncPublishers('self', ['12D3KooWtypo'], []), { name: 'InvalidPublisherError' })
  const dir = await tempDir(t)
  await writeFile(join(dir, 'config.yaml'), 'syncPublishers: [12D3KooWA, 12D3KooWB]\n')
  assert.deepEqual((await loadConfig(dir, { env: {} })).syncPublishers, ['12D3KooWA', '12D3KooWB'])
  assert.equal((await loadConfig(join(dir, 'none'), { env: {} })).syncPublishers, undefined)
  await writeFile(join(dir, 'config.yaml'), 'syncPublishers: 12D3KooWA\n')
  await assert.rejects(loadConfig(dir, { env: {} }), { name: 'InvalidConfigError', message: /syncPublishers/ })
})
