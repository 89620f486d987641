/**
 * What a node accepts (DocumentBook, and SyncService's gossipsub validator over a fake node): documents of its
 * publishers only, newer ones only (a replay of an older seq is ignored), kept on disk and checked again when
 * loaded; a refused document changes nothing, on disk or in the set.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message, TopicValidatorFn } from '@libp2p/gossipsub'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SYNC_TOPIC } from '../../../src/sync/constants.ts'
import { encodeSigned, signDocument, type SignedDocument } from '../../../src/sync/document.ts'
import { DocumentBook } from '../../../src/sync/document-book.ts'
import type { SyncItem } from '../../../src/sync/item.ts'
import { SyncService, type SyncNode } from '../../../src/sync/service.ts'
import { tempDir } from '../../helpers/temp.ts'

const APP: SyncItem = { kind: 'image', ref: 'app/web:1', digest: `sha256:${'a'.repeat(64)}` }

interface Peer { key: PrivateKey, id: string }

async function peer (): Promise<Peer> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

async function documentOf (p: Peer, seq: number, item: SyncItem | undefined = APP): Promise<SignedDocument> {
  const entries = item !== undefined ? [{ key: 'app/web:1', version: seq, item }] : []
  return await signDocument({ publisher: p.id, seq, entries }, p.key)
}

describe('DocumentBook', () => {
  it('keeps a publisher\'s newer documents, ignores replays, refuses non-publishers, and persists', async (t: TestContext) => {
    const dir = await tempDir(t)
    const [self, pub, stranger] = [await peer(), await peer(), await peer()]
    const path = join(dir, 'documents.json')
    const book = await DocumentBook.open({ path, publishers: new Set([self.id, pub.id]), self: self.id })
    assert.equal(await book.offer(await documentOf(pub, 5)), 'accepted')
    assert.deepEqual([...book.desired().keys()], ['app/web:1'])
    const onDisk = await readFile(path, 'utf8')

    // A replayed older document (a removal at seq 3) is ignored: the set and the file stay as they were.
    assert.equal(await book.offer(await documentOf(pub, 3, undefined)), 'stale')
    assert.equal(await book.offer(await documentOf(pub, 5, undefined)), 'stale')
    assert.deepEqual([...book.desired().keys()], ['app/web:1'])
    await assert.rejects(book.offer(await documentOf(stranger, 9, { ...APP, digest: `sha256:${'b'.repeat(64)}` })), { name: 'NotAPublisherError' })
    assert.equal(book.desired().get('app/web:1')?.publisher, pub.id)
    assert.equal(await readFile(path, 'utf8'), onDisk)

    const reopened = await DocumentBook.open({ path, publishers: new Set([self.id, pub.id]), self: self.id })
    assert.deepEqual(reopened.sequences(), { [pub.id]: 5 })
    // A publisher taken out of the configuration: its stored document no longer counts.
    const narrowed = await DocumentBook.open({ path, publishers: new Set([self.id]), self: self.id })
    assert.deepEqual(narrowed.sequences(), {})
  })

  it('signs this node\'s changes only when it is a publisher', async (t: TestContext) => {
    const dir = await tempDir(t)
    const [self, pub] = [await peer(), await peer()]
    const book = await DocumentBook.open({ path: join(dir, 'd.json'), publishers: new Set([pub.id]), self: self.id })
    await assert.rejects(book.change('app/web:1', APP, self.key), { name: 'NotAPublisherError' })
    const own = await DocumentBook.open({ path: join(dir, 'e.json'), publishers: new Set([self.id]), self: self.id })
    const first = await own.change('app/web:1', APP, self.key)
    const second = await own.change('app/web:1', undefined, self.key)
    assert.ok(second.document.seq > first.document.seq)
    assert.equal(own.desired().size, 0)
  })
})

/** A libp2p node as SyncService sees it: gossipsub's validator map, and no peers. */
function fakeNode (self: Peer): { node: SyncNode, validator: () => TopicValidatorFn } {
  const validators = new Map<string, TopicValidatorFn>()
  const pubsub = { topicValidators: validators, subscribe: () => {}, unsubscribe: () => {}, publish: async () => ({ recipients: [] }) }
  const node = {
    peerId: peerIdFromPrivateKey(self.key),
    services: { pubsub },
    handle: async () => {},
    unhandle: async () => {},
    dialProtocol: async () => { throw new Error('no peers') },
    getPeers: () => [],
    addEventListener: () => {},
    removeEventListener: () => {}
  } as unknown as SyncNode
  return { node, validator: () => { const v = validators.get(SYNC_TOPIC); assert.ok(v !== undefined); return v } }
}

function message (from: Peer, signed: SignedDocument): Message {
  return { type: 'signed', from: peerIdFromPrivateKey(from.key), topic: SYNC_TOPIC, data: encodeSigned(signed), sequenceNumber: 1n, signature: new Uint8Array(), key: from.key.publicKey }
}

describe('SyncService validator', () => {
  it('accepts a publisher\'s document, ignores a replay, rejects a non-publisher and a document relayed under another signer', async (t: TestContext) => {
    const dir = await tempDir(t)
    const [self, pub, stranger] = [await peer(), await peer(), await peer()]
    const { node, validator } = fakeNode(self)
    const sync = await SyncService.create({
      node, privateKey: self.key, dataDir: dir, publishers: [self.id, pub.id],
      fetcher: { held: async () => false, pull: async (_item, { signal }) => { await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) }) } },
      publishable: async () => APP
    })
    await sync.start()
    t.after(async () => { await sync.stop() })
    const validate = validator()
    assert.equal(await validate(peerIdFromPrivateKey(pub.key), message(pub, await documentOf(pub, 2))), 'accept')
    assert.equal(await validate(peerIdFromPrivateKey(pub.key), message(pub, await documentOf(pub, 1, undefined))), 'ignore')
    assert.equal(await validate(peerIdFromPrivateKey(stranger.key), message(stranger, await documentOf(stranger, 3, undefined))), 'reject')
    // The publisher's document, but the gossip message is signed by someone else.
    assert.equal(await validate(peerIdFromPrivateKey(stranger.key), message(stranger, await documentOf(pub, 4, undefined))), 'reject')
    assert.deepEqual(sync.list().map(i => i.key), ['app/web:1'])
    const status = sync.status()
    assert.deepEqual(status.documents, { [pub.id]: 2 })
    assert.deepEqual(status.refused.map(r => r.publisher), [stranger.id, stranger.id])
    assert.equal(status.inSync, false)
    assert.equal(status.items[0]?.state === 'held', false)
  })

  it('a node that is not its own publisher cannot add', async (t: TestContext) => {
    const dir = await tempDir(t)
    const [self, pub] = [await peer(), await peer()]
    const { node } = fakeNode(self)
    const sync = await SyncService.create({ node, privateKey: self.key, dataDir: dir, publishers: [pub.id], fetcher: { held: async () => true, pull: async () => {} }, publishable: async () => APP })
    await assert.rejects(sync.add('app/web:1'), { name: 'NotAPublisherError' })
  })
})
