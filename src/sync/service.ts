/**
 * Cluster sync on one node (docs/automata.md "Cluster sync" and "Bootstrap"): the documents (document-book.ts)
 * learned from the gossipsub topic and from peers over `/emergence/sync/1.0.0`, this node's own changes
 * (`sync add`/`rm`, when it is a publisher) published on the topic, and the reconciler pulling what the set
 * holds and the node lacks. Started after the P2P subsystem, stopped before it.
 *
 * - A gossiped message counts only when gossipsub's StrictSign verified it, its document's publisher is the
 *   message's signer, the document's own signature verifies and the publisher is configured; otherwise it is
 *   rejected (not forwarded) and recorded in `status().refused`. A document no newer than the one held is
 *   ignored (a replay).
 * - On start, and whenever a peer connects, the node asks that peer for its documents (gossip delivers only
 *   new messages), so a node that joins late or comes back learns the set from whichever peer it reaches.
 * - "In sync": the node has heard the set (stored documents, a message, an answer from a peer or a change of
 *   its own) and holds every item; it says so in its log each time that becomes true.
 */
import { join } from 'node:path'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { describeError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { SYNC_PROTOCOL, SYNC_TOPIC } from './constants.ts'
import { decodeSigned, encodeSigned, type DesiredItem, type SignedDocument } from './document.ts'
import { DocumentBook, type OfferResult } from './document-book.ts'
import { NotAPublisherError, SyncItemNotFoundError } from './errors.ts'
import { itemKey, parseItemArgument, type ItemRequest, type SyncItem } from './item.ts'
import { fetchDocuments, serveDocuments } from './protocol.ts'
import { Reconciler, type ItemStatus, type SyncFetcher } from './reconciler.ts'

/** The libp2p node as sync uses it: streams, peers, events, and the gossipsub service. */
export type SyncNode = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers' | 'peerId' | 'addEventListener' | 'removeEventListener'> & {
  services: { pubsub: GossipSub }
}

export interface SyncServiceInit {
  node: SyncNode
  /** The node's libp2p key: it signs this node's documents. */
  privateKey: PrivateKey
  dataDir: string
  /** Peer ids whose documents count (docs/configuration.md `syncPublishers`). */
  publishers: readonly string[]
  fetcher: SyncFetcher
  /** On a publisher: the item `sync add` names, pinned to what the node holds. */
  publishable: (request: ItemRequest, signal?: AbortSignal) => Promise<SyncItem>
  /** The digests that keep an item from automatic GC. @default an image's digest */
  digestsOf?: (item: SyncItem) => Promise<string[]>
  concurrency?: number
  logger?: Logger
}

export interface Refusal {
  publisher: string
  reason: string
  at: string
}

export interface SyncStatus {
  /** The set was heard and every item is held. */
  inSync: boolean
  heard: boolean
  /** When the node last became in sync (ISO time). */
  inSyncSince?: string
  self: string
  publishers: string[]
  /** Sequence number of each publisher's document held. */
  documents: Record<string, number>
  items: ItemStatus[]
  /** The latest documents refused (not from a publisher, bad signature), newest last. */
  refused: Refusal[]
}

const MAX_REFUSALS = 16

export class SyncService {
  private readonly init: SyncServiceInit
  private readonly book: DocumentBook
  private readonly reconciler: Reconciler
  private readonly logger: Logger
  private readonly refused: Refusal[] = []
  private readonly controller = new AbortController()
  private heard: boolean
  private inSyncSince: string | undefined
  private readonly onConnect = (event: CustomEvent<PeerId>): void => { void this.learnFrom(event.detail) }

  private constructor (init: SyncServiceInit, book: DocumentBook) {
    this.init = init
    this.book = book
    this.logger = init.logger ?? silentLogger
    this.heard = book.documents().length > 0
    this.reconciler = new Reconciler({
      fetcher: init.fetcher,
      ...(init.concurrency !== undefined ? { concurrency: init.concurrency } : {}),
      logger: this.logger,
      onAllHeld: () => { this.checkInSync() }
    })
  }

  static async create (init: SyncServiceInit): Promise<SyncService> {
    const book = await DocumentBook.open({ path: join(init.dataDir, 'sync', 'documents.json'), publishers: new Set(init.publishers), self: init.node.peerId.toString(), ...(init.logger !== undefined ? { logger: init.logger } : {}) })
    return new SyncService(init, book)
  }

  async start (): Promise<void> {
    const { node } = this.init
    const pubsub = node.services.pubsub
    pubsub.topicValidators.set(SYNC_TOPIC, async (_peer, message) => await this.validate(message))
    pubsub.subscribe(SYNC_TOPIC)
    await node.handle(SYNC_PROTOCOL, async stream => { await serveDocuments(stream, () => this.book.documents()) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    node.addEventListener('peer:connect', this.onConnect)
    this.reconciler.start()
    this.apply()
    // The peers connected already (bootstrap peers are dialled before start); not awaited: a slow peer must not
    // hold up the node's start, and `status().heard` says when the set is known.
    for (const peer of node.getPeers()) void this.learnFrom(peer)
  }

  async stop (): Promise<void> {
    const { node } = this.init
    this.controller.abort(new Error('sync is stopping'))
    node.removeEventListener('peer:connect', this.onConnect)
    this.reconciler.stop()
    node.services.pubsub.topicValidators.delete(SYNC_TOPIC)
    node.services.pubsub.unsubscribe(SYNC_TOPIC)
    await node.unhandle(SYNC_PROTOCOL)
  }

  /** Adds an image ref or a store path to the set (this node must be a publisher); published at once. */
  async add (argument: string, signal?: AbortSignal): Promise<DesiredItem> {
    const self = this.init.node.peerId.toString()
    if (!this.book.isPublisher(self)) throw new NotAPublisherError(self, true)
    const item = await this.init.publishable(parseItemArgument(argument), signal)
    const key = itemKey(item)
    await this.publish(await this.book.change(key, item, this.init.privateKey))
    const added = this.book.desired().get(key)
    if (added === undefined) throw new Error(`${key} is not in the set after adding it`)
    return added
  }

  /** Removes an item by its ref or store path; SyncItemNotFoundError when the set does not hold it. */
  async remove (argument: string): Promise<{ key: string }> {
    const key = itemKey(parseItemArgument(argument))
    if (!this.book.desired().has(key)) throw new SyncItemNotFoundError(key)
    await this.publish(await this.book.change(key, undefined, this.init.privateKey))
    return { key }
  }

  list (): DesiredItem[] {
    return [...this.book.desired().values()].sort((a, b) => a.key.localeCompare(b.key))
  }

  status (): SyncStatus {
    this.checkInSync()
    const inSync = this.inSyncSince !== undefined
    return {
      inSync,
      heard: this.heard,
      ...(this.inSyncSince !== undefined ? { inSyncSince: this.inSyncSince } : {}),
      self: this.init.node.peerId.toString(),
      publishers: [...this.book.publishers],
      documents: this.book.sequences(),
      items: this.reconciler.status(),
      refused: [...this.refused]
    }
  }

  /** The digests of the desired set, for the automatic GC's `protectedDigests` hook (src/gc/protect.ts). */
  async protectedDigests (): Promise<Set<string>> {
    const digestsOf = this.init.digestsOf ?? (async (item: SyncItem) => item.kind === 'image' ? [item.digest] : [])
    const all = await Promise.all(this.list().map(async d => await digestsOf(d.item)))
    return new Set(all.flat())
  }

  private async publish (signed: SignedDocument): Promise<void> {
    this.heard = true
    this.apply()
    try {
      const result = await this.init.node.services.pubsub.publish(SYNC_TOPIC, encodeSigned(signed))
      this.logger.info(`sync: published document ${signed.document.seq} to ${result.recipients.length} peer(s)`)
    } catch (err) {
      // Peers that missed it ask for the documents when they next connect.
      this.logger.warn(`sync: publishing failed: ${describeError(err)}`)
    }
  }

  /** gossipsub's topic validator: accept (deliver and forward), ignore (a replay) or reject. */
  private async validate (message: Message): Promise<TopicValidatorResult> {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    let signed: SignedDocument
    try {
      signed = await decodeSigned(message.data)
      if (signed.document.publisher !== message.from.toString()) throw new Error(`signed by ${message.from.toString()}, not by its publisher ${signed.document.publisher}`)
    } catch (err) {
      this.refuse(message.from.toString(), err)
      return TopicValidatorResult.Reject
    }
    const result = await this.offer(signed)
    return result === 'accepted' ? TopicValidatorResult.Accept : result === 'stale' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
  }

  private async offer (signed: SignedDocument): Promise<OfferResult | 'refused'> {
    try {
      const result = await this.book.offer(signed)
      this.heard = true
      if (result === 'accepted') {
        this.logger.info(`sync: document ${signed.document.seq} of ${signed.document.publisher}`)
        this.apply()
      }
      return result
    } catch (err) {
      this.refuse(signed.document.publisher, err)
      return 'refused'
    }
  }

  /** Asks a peer for its documents; a peer without the protocol, or gone, is skipped. */
  private async learnFrom (peer: PeerId): Promise<void> {
    let frames: Uint8Array[]
    try {
      frames = await fetchDocuments(this.init.node, peer, { signal: this.controller.signal })
    } catch (err) {
      if (!this.controller.signal.aborted) this.logger.debug(`sync: no documents from ${peer.toString()}: ${describeError(err)}`)
      return
    }
    for (const frame of frames) {
      try {
        await this.offer(await decodeSigned(frame))
      } catch (err) {
        this.refuse(peer.toString(), err)
      }
    }
    this.heard = true
    this.apply()
  }

  private apply (): void {
    this.reconciler.update(this.book.desired())
    this.checkInSync()
  }

  private refuse (from: string, err: unknown): void {
    const reason = describeError(err)
    this.logger.warn(`sync: refused a document from ${from}: ${reason}`)
    this.refused.push({ publisher: from, reason, at: new Date().toISOString() })
    if (this.refused.length > MAX_REFUSALS) this.refused.shift()
  }

  /** Notes (and logs) each time the node becomes in sync, and forgets it when an item is missing again. */
  private checkInSync (): void {
    const inSync = this.heard && this.reconciler.holdsAll()
    if (!inSync) {
      this.inSyncSince = undefined
      return
    }
    if (this.inSyncSince !== undefined) return
    this.inSyncSince = new Date().toISOString()
    this.logger.info(`sync: in sync: ${this.reconciler.status().length} item(s) of the desired set held`)
  }
}
