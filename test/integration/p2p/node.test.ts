import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '../../../src/p2p/index.ts'
import { silentLogger, type Logger } from '../../../src/util/logger.ts'
import { startPeer, tempDir, until } from './helpers.ts'

test('a node dials its bootstrap peers at start', { timeout: 60_000 }, async t => {
  const first = await startPeer(t)
  const second = await startPeer(t, { bootstrap: [first.p2p.addresses[0] as string] })
  const connected = (): boolean => second.p2p.node.getConnections(first.p2p.peerId).length > 0 &&
    first.p2p.node.getConnections(second.p2p.peerId).length > 0
  // No deadline of our own: a bootstrap peer never dialed fails by the test timeout.
  await until(connected)
  assert.equal(connected(), true)
})

test('bad configuration is refused with a clear error', async t => {
  await assert.rejects(startPeer(t, { allowList: ['not-a-peer-id'] }), { name: 'InvalidP2PConfigError' })
  await assert.rejects(startPeer(t, { bootstrap: ['/ip4/127.0.0.1/tcp/1'] }), { name: 'InvalidP2PConfigError' })
  await assert.rejects(startPeer(t, { exchange: { pieceSize: 1000 } }), { name: 'InvalidP2PConfigError' })
  await assert.rejects(startPeer(t, { trustedPeers: ['nope'] }), { name: 'InvalidP2PConfigError' })
})

test('the identity file: kept across loads, a loose mode tightened, garbage refused', async t => {
  const dir = await tempDir(t)
  const key = await loadOrCreateIdentity(dir)
  assert.equal((await loadOrCreateIdentity(dir)).equals(key), true)
  await chmod(join(dir, 'peer.key'), 0o644)
  await loadOrCreateIdentity(dir)
  assert.equal((await stat(join(dir, 'peer.key'))).mode & 0o777, 0o600)
  await writeFile(join(dir, 'peer.key'), 'garbage')
  await assert.rejects(loadOrCreateIdentity(dir), { name: 'IdentityFileError' })
  await writeFile(join(dir, 'peer.key'), '')
  await assert.rejects(loadOrCreateIdentity(dir), { name: 'IdentityFileError' })
})

test('a node started without an allow-list says so at start; with one, it does not', async t => {
  const warnings = (): { lines: string[], logger: Logger } => {
    const lines: string[] = []
    return { lines, logger: { ...silentLogger, warn: (message: string) => { lines.push(message) } } }
  }
  const open = warnings()
  const first = await startPeer(t, { logger: open.logger })
  assert.ok(open.lines.some(l => /no allow-list: any peer .* may connect/.test(l) && l.includes('--allow')), open.lines.join('\n'))
  const closed = warnings()
  await startPeer(t, { logger: closed.logger, allowList: [first.p2p.peerId.toString()] })
  assert.deepEqual(closed.lines.filter(l => l.includes('allow-list')), [])
})
