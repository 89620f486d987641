/**
 * The documents a node holds (document.ts): the latest signed document of each configured publisher, persisted
 * in `<data-dir>/sync/documents.json` (temp file + rename) and checked again when loaded, so a change of
 * `syncPublishers` applies to what is on disk too. Offers are applied one at a time.
 */
import { readFile } from 'node:fs/promises'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { describeError, isErrno } from '../util/errors.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { decodeSigned, desiredSet, encodeSigned, nextDocument, signDocument, type DesiredItem, type SignedDocument, type SyncDocument } from './document.ts'
import { NotAPublisherError } from './errors.ts'
import type { SyncItem } from './item.ts'

/** What an offered document did: replaced the publisher's, or was no newer than the one held (a replay). */
export type OfferResult = 'accepted' | 'stale'

export interface DocumentBookInit {
  /** The file the documents live in. */
  path: string
  /** Peer ids whose documents count. */
  publishers: ReadonlySet<string>
  /** This node's peer id. */
  self: string
  logger?: Logger
}

export class DocumentBook {
  private readonly init: DocumentBookInit
  private readonly logger: Logger
  private readonly held = new Map<string, SignedDocument>()
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (init: DocumentBookInit) {
    this.init = init
    this.logger = init.logger ?? silentLogger
  }

  /** Loads the file (absent: no documents); a document that no longer verifies or whose publisher left is dropped. */
  static async open (init: DocumentBookInit): Promise<DocumentBook> {
    const book = new DocumentBook(init)
    let raw: unknown = []
    try {
      raw = JSON.parse(await readFile(init.path, 'utf8'))
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) book.logger.warn(`sync: ${init.path} is unreadable, starting without documents: ${describeError(err)}`)
    }
    for (const entry of z.array(z.unknown()).catch([]).parse(raw)) {
      try {
        const signed = await decodeSigned(entry)
        book.check(signed.document.publisher)
        book.keep(signed)
      } catch (err) {
        book.logger.warn(`sync: dropping a stored document: ${describeError(err)}`)
      }
    }
    return book
  }

  get publishers (): ReadonlySet<string> {
    return this.init.publishers
  }

  isPublisher (peer: string): boolean {
    return this.init.publishers.has(peer)
  }

  documents (): SignedDocument[] {
    return [...this.held.values()]
  }

  /** Sequence number held for each publisher. */
  sequences (): Record<string, number> {
    return Object.fromEntries([...this.held].map(([publisher, signed]) => [publisher, signed.document.seq]))
  }

  desired (): Map<string, DesiredItem> {
    return desiredSet(this.plain())
  }

  /** A verified document from a peer: NotAPublisherError unless its publisher is configured; stale unless newer. */
  async offer (signed: SignedDocument): Promise<OfferResult> {
    this.check(signed.document.publisher)
    return await this.serially(async () => {
      if (!this.keep(signed)) return 'stale'
      await this.save()
      return 'accepted'
    })
  }

  /** This node's own change: its next document, signed with its key, kept and saved. */
  async change (key: string, item: SyncItem | undefined, privateKey: PrivateKey): Promise<SignedDocument> {
    const self = this.init.self
    if (!this.isPublisher(self)) throw new NotAPublisherError(self, true)
    return await this.serially(async () => {
      const signed = await signDocument(nextDocument(self, this.plain(), { key, ...(item !== undefined ? { item } : {}) }), privateKey)
      this.keep(signed)
      await this.save()
      return signed
    })
  }

  private check (publisher: string): void {
    if (!this.isPublisher(publisher)) throw new NotAPublisherError(publisher)
  }

  /** Keeps the document when it is newer than the one held; false for a replay. */
  private keep (signed: SignedDocument): boolean {
    const current = this.held.get(signed.document.publisher)
    if (current !== undefined && current.document.seq >= signed.document.seq) return false
    this.held.set(signed.document.publisher, signed)
    return true
  }

  private plain (): SyncDocument[] {
    return [...this.held.values()].map(s => s.document)
  }

  private async save (): Promise<void> {
    const text = '[' + this.documents().map(s => Buffer.from(encodeSigned(s)).toString('utf8')).join(',\n') + ']\n'
    await writeFileAtomic(this.init.path, text)
  }

  private async serially<T> (work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work)
    this.queue = run.catch(() => undefined)
    return await run
  }
}
