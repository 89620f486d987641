import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { writeFile, mkdir } from 'node:fs/promises'
import { putBlob, randomBlob, startPeer, tempDir } from './helpers.ts'

/** Creates identities up front, so that each node's allow-list can name the others. */
async function identity (t: Parameters<typeof tempDir>[0]): Promise<{ dir: string, id: string }> {
  const dir = await tempDir(t)
  const key = await generateKeyPair('Ed25519')
  await mkdir(join(dir, 'p2p'))
  await writeFile(join(dir, 'p2p', 'peer.key'), privateKeyToProtobuf(key), { mode: 0o600 })
  return { dir, id: peerIdFromPrivateKey(key).toString() }
}

async function waitFor (condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

test('an allow-listed cluster refuses a stranger both ways, and serves it nothing', async t => {
  const [ia, ib] = [await identity(t), await identity(t)]
  const allowList = [ia.id, ib.id]
  const a = await startPeer(t, { dir: ia.dir, allowList })
  const b = await startPeer(t, { dir: ib.dir, allowList })
  const stranger = await startPeer(t)
  const blob = randomBlob(256 * 1024)
  await putBlob(a.store, blob.bytes)

  assert.equal((await b.p2p.dial(a.p2p.addresses[0] as string)).toString(), ia.id, 'members connect')

  // Inbound: a Noise handshake completes before the gater sees the stranger's id, so the stranger's dial may
  // look successful for a moment; the member then closes the connection without opening a single stream.
  await stranger.p2p.dial(a.p2p.addresses[0] as string).catch(() => undefined)
  await waitFor(() => stranger.p2p.node.getConnections(a.p2p.peerId).length === 0)
  assert.equal(a.p2p.node.getPeers().some(p => p.equals(stranger.p2p.peerId)), false, 'the member never kept the stranger')
  await assert.rejects(a.p2p.dial(stranger.p2p.addresses[0] as string), 'outbound to a stranger is refused')
  await assert.rejects(a.p2p.node.dial(stranger.p2p.peerId), 'dialing a stranger by id is refused')
  await assert.rejects(stranger.p2p.exchange.client.have(a.p2p.peerId, blob.digest), { name: 'PeerUnreachableError' })
  assert.equal(a.p2p.node.getConnections(stranger.p2p.peerId).length, 0)
  assert.equal(a.p2p.counters().servedTotal, 0)
})

test('the identity key is created once, with mode 0600', async t => {
  const dir = await tempDir(t)
  const peer = await startPeer(t, { dir })
  const info = await stat(join(dir, 'p2p', 'peer.key'))
  assert.equal(info.mode & 0o777, 0o600)
  assert.match(peer.p2p.peerId.toString(), /^12D3KooW/)
})
