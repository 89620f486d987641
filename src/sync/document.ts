/**
 * The desired set as documents (docs/automata.md "Cluster sync"): each publisher signs one document, a list of
 * entries keyed by item, and replaces it whole with a higher sequence number on every change. A node keeps the
 * latest document of each publisher; the set is a pure function of those documents, so nodes that hold the
 * same documents agree, whatever order they came in.
 *
 * - **Entries are last-writer-wins registers.** An entry names its key, a version and the item (absent: a removal
 *   marker). For each key the entry with the highest version wins across all documents (ties: the higher
 *   publisher id); the item is in the set when the winner holds one. A publisher's change takes version
 *   1 + the highest it knows for that key, so any publisher may remove what another added.
 * - **Signed by the publisher's libp2p key** over SIGNATURE_DOMAIN + the document's JSON text, carried as that
 *   text, so a document fetched from any peer (or read from disk) verifies on its own; the key comes from the
 *   publisher's peer id (Ed25519 ids embed it).
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { describeError } from '../util/errors.ts'
import { MAX_DOCUMENT_BYTES, MAX_ENTRIES, SIGNATURE_DOMAIN } from './constants.ts'
import { InvalidDocumentError } from './errors.ts'
import { itemSchema, type SyncItem } from './item.ts'

export interface SyncEntry {
  key: string
  version: number
  /** Absent: the publisher removed the item. */
  item?: SyncItem
}

export interface SyncDocument {
  publisher: string
  /** Higher replaces lower; a document whose seq is not above the one held is a replay and is ignored. */
  seq: number
  entries: SyncEntry[]
}

/** A document with the exact text its signature covers. */
export interface SignedDocument {
  document: SyncDocument
  payload: string
  /** base64 */
  signature: string
}

/** An item of the set, with the entry that put it there. */
export interface DesiredItem {
  key: string
  item: SyncItem
  publisher: string
  version: number
}

const entrySchema = z.object({
  key: z.string().min(1).max(512),
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  item: itemSchema.optional()
}).strict().refine(e => e.item === undefined || (e.item.kind === 'image' ? e.item.ref : e.item.path) === e.key, 'the key does not name the item')

const documentSchema = z.object({
  publisher: z.string().min(1).max(128),
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  entries: z.array(entrySchema).max(MAX_ENTRIES)
}).strict().refine(d => new Set(d.entries.map(e => e.key)).size === d.entries.length, 'a key appears twice')

const envelopeSchema = z.object({
  payload: z.string().max(MAX_DOCUMENT_BYTES),
  signature: z.string().max(256).regex(/^[A-Za-z0-9+/]*={0,2}$/)
}).strict()

function signedBytes (payload: string): Uint8Array {
  return Buffer.from(SIGNATURE_DOMAIN + payload, 'utf8')
}

export async function signDocument (document: SyncDocument, key: PrivateKey): Promise<SignedDocument> {
  const payload = JSON.stringify(document)
  if (Buffer.byteLength(payload) > MAX_DOCUMENT_BYTES) throw new InvalidDocumentError(`the document would be ${Buffer.byteLength(payload)} bytes, more than ${MAX_DOCUMENT_BYTES}`)
  const signature = Buffer.from(await key.sign(signedBytes(payload))).toString('base64')
  return { document, payload, signature }
}

/** The wire and disk form: `{"payload": <document JSON text>, "signature": <base64>}`. */
export function encodeSigned (signed: SignedDocument): Uint8Array {
  return Buffer.from(JSON.stringify({ payload: signed.payload, signature: signed.signature }))
}

/** Parses and checks a document, and verifies its signature against its publisher's key; InvalidDocumentError otherwise. */
export async function decodeSigned (bytes: Uint8Array | unknown): Promise<SignedDocument> {
  if (bytes instanceof Uint8Array && bytes.byteLength > MAX_DOCUMENT_BYTES + 1024) throw new InvalidDocumentError(`${bytes.byteLength} bytes, more than ${MAX_DOCUMENT_BYTES}`)
  let envelope: z.infer<typeof envelopeSchema>
  let document: SyncDocument
  try {
    envelope = envelopeSchema.parse(bytes instanceof Uint8Array ? JSON.parse(Buffer.from(bytes).toString('utf8')) : bytes)
    document = documentSchema.parse(JSON.parse(envelope.payload)) as SyncDocument
  } catch (err) {
    throw new InvalidDocumentError(describeError(err), err)
  }
  let verified = false
  try {
    const publicKey = peerIdFromString(document.publisher).publicKey
    if (publicKey === undefined) throw new Error('the publisher id does not embed its key')
    verified = await publicKey.verify(signedBytes(envelope.payload), Buffer.from(envelope.signature, 'base64'))
  } catch (err) {
    throw new InvalidDocumentError(`publisher ${document.publisher}: ${describeError(err)}`, err)
  }
  if (!verified) throw new InvalidDocumentError(`the signature is not ${document.publisher}'s`)
  return { document, payload: envelope.payload, signature: envelope.signature }
}

/** Does entry `a` (of publisher `pa`) win over entry `b` (of `pb`)? Higher version, then higher publisher id. */
function wins (a: SyncEntry, pa: string, b: SyncEntry, pb: string): boolean {
  return a.version !== b.version ? a.version > b.version : pa > pb
}

/** The winning entry of every key, over all documents. */
export function winners (documents: Iterable<SyncDocument>): Map<string, { entry: SyncEntry, publisher: string }> {
  const best = new Map<string, { entry: SyncEntry, publisher: string }>()
  for (const document of documents) {
    for (const entry of document.entries) {
      const current = best.get(entry.key)
      if (current === undefined || wins(entry, document.publisher, current.entry, current.publisher)) best.set(entry.key, { entry, publisher: document.publisher })
    }
  }
  return best
}

/** The desired set: the items whose winning entry holds one, by key. */
export function desiredSet (documents: Iterable<SyncDocument>): Map<string, DesiredItem> {
  const set = new Map<string, DesiredItem>()
  for (const [key, { entry, publisher }] of winners(documents)) {
    if (entry.item !== undefined) set.set(key, { key, item: entry.item, publisher, version: entry.version })
  }
  return set
}

/**
 * The publisher's next document after setting `key` to `item` (undefined: removing it): version above every
 * entry known for the key, seq above the previous one and at least the time in ms (a publisher whose data dir
 * was lost starts above its old documents). Removal markers no other document could be outvoted by are dropped.
 */
export function nextDocument (publisher: string, documents: readonly SyncDocument[], change: { key: string, item?: SyncItem }, now = Date.now()): SyncDocument {
  const own = documents.find(d => d.publisher === publisher)
  const others = documents.filter(d => d.publisher !== publisher)
  const known = Math.max(0, ...documents.flatMap(d => d.entries.filter(e => e.key === change.key).map(e => e.version)))
  const entry: SyncEntry = { key: change.key, version: known + 1, ...(change.item !== undefined ? { item: change.item } : {}) }
  const live = new Set(others.flatMap(d => d.entries.filter(e => e.item !== undefined).map(e => e.key)))
  const kept = (own?.entries ?? []).filter(e => e.key !== change.key && (e.item !== undefined || live.has(e.key)))
  const entries = [...kept, ...(entry.item !== undefined || live.has(entry.key) ? [entry] : [])]
  if (entries.length > MAX_ENTRIES) throw new InvalidDocumentError(`the desired set would hold more than ${MAX_ENTRIES} entries from ${publisher}`)
  return { publisher, seq: Math.max((own?.seq ?? 0) + 1, now), entries }
}
