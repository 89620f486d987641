import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { Store } from '../../../src/store/store.ts'
import { PIECE, connect, putBlob, randomBlob, startPeer, tempDir } from './helpers.ts'
import { startEvilPeer } from './fixtures/evil-peer.ts'

const FIXTURE = join(import.meta.dirname, 'fixtures', 'provider.ts')

test('a provider killed mid-transfer (SIGKILL) is dropped and the pull completes from the other', async t => {
  const blob = randomBlob(4 * 1024 * 1024)
  const dir = await tempDir(t)
  await putBlob(await Store.open(join(dir, 'oci')), blob.bytes)
  const child = spawn(process.execPath, [FIXTURE, join(dir, 'oci'), join(dir, 'p2p'), String(2 * 1024 * 1024), String(PIECE)], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', code => { reject(new Error(`provider exited with ${code}`)) })
  })
  const doomed = JSON.parse(line) as { peerId: string, addrs: string[] }
  const [other, puller] = await Promise.all([startPeer(t, { uploadRate: 2 * 1024 * 1024 }), startPeer(t)])
  await putBlob(other.store, blob.bytes)
  await connect(puller, other)
  await puller.p2p.dial(doomed.addrs[0] as string)
  let fromDoomed = 0
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, {
    onPiece: (peer, bytes) => {
      if (peer !== doomed.peerId) return
      fromDoomed += bytes
      if (fromDoomed >= 256 * 1024 && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
  assert.equal(child.signalCode, 'SIGKILL')
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  const fromOther = result.fromPeers[other.p2p.peerId.toString()] ?? 0
  assert.ok(fromDoomed >= 256 * 1024 && fromDoomed < blob.bytes.byteLength, `the killed provider sent ${fromDoomed} bytes`)
  assert.equal(fromOther + (result.fromPeers[doomed.peerId] ?? 0), blob.bytes.byteLength)
})

test('a provider that serves corrupt pieces is banned and its pieces come from elsewhere', async t => {
  const blob = randomBlob(2 * 1024 * 1024)
  const [honest, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(honest.store, blob.bytes)
  const evil = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: false })
  await connect(puller, honest)
  await puller.p2p.dial(String(evil.node.getMultiaddrs()[0]))
  const result = await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [evil.node.peerId] })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  const evilId = evil.node.peerId.toString()
  assert.match(puller.p2p.puller.bans.entries()[evilId] ?? '', /corrupt|fails/)
  assert.ok(evil.served() > 0, 'the evil peer was asked, and its bytes were refused')
  assert.equal(result.fromPeers[evilId], undefined)
  assert.equal(result.fromPeers[honest.p2p.peerId.toString()], blob.bytes.byteLength)
})

test('a peer that hands out a lying piece list is banned and the blob still comes out right', async t => {
  const blob = randomBlob(1024 * 1024)
  const [honest, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(honest.store, blob.bytes)
  const liar = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: true })
  await connect(puller, honest)
  await puller.p2p.dial(String(liar.node.getMultiaddrs()[0]))
  await puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [liar.node.peerId] })
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.match(puller.p2p.puller.bans.entries()[liar.node.peerId.toString()] ?? '', /piece list/)
  assert.equal(puller.p2p.puller.bans.isBanned(honest.p2p.peerId.toString()), false)
})

test('the lying list is caught by the digest when the liar is the only one asked first', async t => {
  const blob = randomBlob(512 * 1024)
  const puller = await startPeer(t, { puller: { listSources: 1 } })
  const liar = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: true })
  await puller.p2p.dial(String(liar.node.getMultiaddrs()[0]))
  // Only the liar at first: every piece matches its list; the whole digest then proves the list a lie.
  const honest = await startPeer(t)
  await putBlob(honest.store, blob.bytes)
  const pulling = puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [liar.node.peerId] })
  await connect(puller, honest)
  await pulling
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.match(puller.p2p.puller.bans.entries()[liar.node.peerId.toString()] ?? '', /piece list/)
})

test('a blob of one piece, checked against its digest alone: a peer serving it corrupt is banned', async t => {
  const blob = randomBlob(20_000)
  const [honest, puller] = await Promise.all([startPeer(t), startPeer(t)])
  await putBlob(honest.store, blob.bytes)
  const evil = await startEvilPeer(t, blob.bytes, blob.digest, PIECE, { lyingList: false })
  await puller.p2p.dial(String(evil.node.getMultiaddrs()[0]))
  // Only the liar at first; the honest holder is found once it is connected.
  const pulling = puller.p2p.pullBlob({ digest: blob.digest, size: blob.bytes.byteLength }, { providers: [evil.node.peerId] })
  for (let waited = 0; !puller.p2p.puller.bans.isBanned(evil.node.peerId.toString()); waited += 20) {
    assert.ok(waited < 10_000, 'the liar was never caught')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  await connect(puller, honest)
  const pulled = await pulling
  assert.deepEqual(Buffer.from(await puller.store.blobs.readBytes(blob.digest)), blob.bytes)
  assert.match(puller.p2p.puller.bans.entries()[evil.node.peerId.toString()] ?? '', /fails its digest/)
  assert.ok(evil.served() > 0, 'the liar was asked')
  assert.equal(pulled.fromPeers[evil.node.peerId.toString()], undefined)
})
