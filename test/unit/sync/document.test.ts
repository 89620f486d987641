/** Sync documents: the merge (last writer wins per item, any order), the next document, and signatures. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_DOCUMENT_BYTES } from '../../../src/sync/constants.ts'
import { decodeSigned, desiredSet, encodeSigned, nextDocument, signDocument, type SyncDocument } from '../../../src/sync/document.ts'
import { parseItemArgument, type SyncItem } from '../../../src/sync/item.ts'

const DIGEST_A = `sha256:${'a'.repeat(64)}` as const
const DIGEST_B = `sha256:${'b'.repeat(64)}` as const
const APP: SyncItem = { kind: 'image', ref: 'app/web:1', digest: DIGEST_A }
const NIX: SyncItem = { kind: 'nix', path: '/nix/store/0c8bzmhhj7hvzr2ap3rfzcf8r2rm08rx-hello' }

async function publisher (): Promise<{ key: PrivateKey, id: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

function keys (documents: SyncDocument[]): string[] {
  return [...desiredSet(documents).keys()].sort()
}

describe('desired set', () => {
  it('is the union of live entries, whatever the order of the documents', () => {
    const a: SyncDocument = { publisher: 'A', seq: 1, entries: [{ key: 'app/web:1', version: 1, item: APP }] }
    const b: SyncDocument = { publisher: 'B', seq: 1, entries: [{ key: '/nix/store/0c8bzmhhj7hvzr2ap3rfzcf8r2rm08rx-hello', version: 1, item: NIX }] }
    assert.deepEqual(keys([a, b]), keys([b, a]))
    assert.deepEqual(keys([a, b]), ['/nix/store/0c8bzmhhj7hvzr2ap3rfzcf8r2rm08rx-hello', 'app/web:1'])
  })

  it('lets any publisher remove what another added, and a later add win again', () => {
    const documents: SyncDocument[] = [{ publisher: 'A', seq: 1, entries: [{ key: 'app/web:1', version: 1, item: APP }] }]
    const removedByB = nextDocument('B', documents, { key: 'app/web:1' }, 10)
    assert.deepEqual(removedByB.entries, [{ key: 'app/web:1', version: 2 }])
    assert.deepEqual(keys([...documents, removedByB]), [])
    const readdedByA = nextDocument('A', [...documents, removedByB], { key: 'app/web:1', item: { ...APP, digest: DIGEST_B } }, 10)
    const set = desiredSet([readdedByA, removedByB])
    assert.deepEqual(set.get('app/web:1')?.item, { ...APP, digest: DIGEST_B })
  })

  it('breaks a tie of versions by publisher id, the same way on every node', () => {
    const a: SyncDocument = { publisher: 'A', seq: 1, entries: [{ key: 'app/web:1', version: 3, item: APP }] }
    const b: SyncDocument = { publisher: 'B', seq: 1, entries: [{ key: 'app/web:1', version: 3 }] }
    assert.deepEqual(keys([a, b]), [])
    assert.deepEqual(keys([b, a]), [])
  })
})

describe('next document', () => {
  it('raises seq above the last one and to at least the time, and drops removal markers nothing needs', () => {
    const first = nextDocument('A', [], { key: 'app/web:1', item: APP }, 1000)
    assert.equal(first.seq, 1000)
    const second = nextDocument('A', [first], { key: 'app/web:1' }, 5)
    assert.equal(second.seq, 1001)
    // Only A ever held the item: removing it leaves nothing to outvote, so no marker stays.
    assert.deepEqual(second.entries, [])
  })
})

describe('signatures', () => {
  it('a signed document verifies, from its own bytes alone', async () => {
    const { key, id } = await publisher()
    const signed = await signDocument(nextDocument(id, [], { key: 'app/web:1', item: APP }), key)
    const decoded = await decodeSigned(encodeSigned(signed))
    assert.deepEqual(decoded.document, signed.document)
  })

  it('refuses a changed payload, another key, a publisher id without a key, garbage and oversized input', async () => {
    const { key, id } = await publisher()
    const other = await publisher()
    const signed = await signDocument({ publisher: id, seq: 1, entries: [] }, key)
    const tampered = { ...signed, payload: signed.payload.replace('"seq":1', '"seq":2') }
    await assert.rejects(decodeSigned(encodeSigned(tampered)), { name: 'InvalidDocumentError' })
    // Signed by `other` but claiming to be `id`'s.
    const forged = await signDocument({ publisher: id, seq: 5, entries: [] }, other.key)
    await assert.rejects(decodeSigned(encodeSigned(forged)), { name: 'InvalidDocumentError' })
    await assert.rejects(decodeSigned(Buffer.from('{"payload":"{}","signature":""}')), { name: 'InvalidDocumentError' })
    await assert.rejects(decodeSigned(Buffer.from('not json')), { name: 'InvalidDocumentError' })
    await assert.rejects(decodeSigned(Buffer.alloc(MAX_DOCUMENT_BYTES + 2048, 0x20)), { name: 'InvalidDocumentError' })
  })

  it('refuses an entry whose key does not name its item', async () => {
    const { key, id } = await publisher()
    const signed = await signDocument({ publisher: id, seq: 1, entries: [{ key: 'other:1', version: 1, item: APP }] }, key)
    await assert.rejects(decodeSigned(encodeSigned(signed)), { name: 'InvalidDocumentError' })
  })
})

describe('items', () => {
  it('takes image refs and store paths, and names a bad one', () => {
    assert.deepEqual(parseItemArgument('app/web'), { kind: 'image', ref: 'app/web:latest' })
    assert.deepEqual(parseItemArgument(`app/web@${DIGEST_A}`), { kind: 'image', ref: `app/web@${DIGEST_A}`, digest: DIGEST_A })
    assert.deepEqual(parseItemArgument('/nix/store/0c8bzmhhj7hvzr2ap3rfzcf8r2rm08rx-hello/bin/hello'), NIX)
    assert.throws(() => parseItemArgument('/nix/store/nothash-x'), { name: 'InvalidSyncItemError' })
    assert.throws(() => parseItemArgument('Bad Ref'), { name: 'InvalidSyncItemError' })
  })
})
