/**
 * One migration's stream, as either side sees it (docs/protocol.md §11): typed frames on the blob protocol's
 * framing (FramedStream), writes one at a time, every read bounded by the idle timeout, and keep-alive PROGRESS
 * frames while a side works for long (a prefetch, a snapshot, a pull), so a silent peer is told from a busy one.
 */
import type { FramedStream } from '../../p2p/protocol/wire.ts'
import { decodeMigrate, type MessageOf, type MigrateMessage } from './codec.ts'
import { IDLE_TIMEOUT_MS, PROGRESS_INTERVAL_MS, WATCH_TIMEOUT_MS, WRITE_TIMEOUT_MS } from './constants.ts'
import { MigrationAbortedError, MigrationRefusedError } from './errors.ts'
import { PeerTimeoutError, UnexpectedResponseError } from '../../p2p/errors.ts'

export type MessageType = MigrateMessage['type']

export class MigrateSession {
  readonly peer: string
  private readonly framed: FramedStream
  private readonly signal: AbortSignal
  private writing: Promise<void> = Promise.resolve()
  /** A read begun by `watching`, taken over by the next `expect`. */
  private pending: Promise<MigrateMessage> | undefined

  constructor (framed: FramedStream, signal: AbortSignal) {
    this.framed = framed
    this.peer = framed.peer
    this.signal = signal
  }

  /** Sends one frame after those already queued. */
  async send (message: MigrateMessage): Promise<void> {
    const turn = this.writing.then(async () => { await this.framed.writeMessage(message, WRITE_TIMEOUT_MS, this.signal) })
    this.writing = turn.catch(() => {})
    await turn
  }

  /**
   * Reads frames until one of `types` comes; PROGRESS frames go to `onProgress` and restart the idle wait. The
   * peer's ERROR is MigrationRefusedError, its ABORT MigrationAbortedError, any other type a protocol violation.
   */
  async expect<T extends MessageType> (types: readonly T[], what: string, onProgress?: (message: MessageOf<'PROGRESS'>) => void, timeoutMs = IDLE_TIMEOUT_MS): Promise<MessageOf<T>> {
    while (true) {
      const message = await this.next(what, timeoutMs)
      if ((types as readonly string[]).includes(message.type)) return message as MessageOf<T>
      if (message.type === 'PROGRESS') { onProgress?.(message); continue }
      if (message.type === 'ERROR') throw new MigrationRefusedError(this.peer, message.code, message.message)
      if (message.type === 'ABORT') throw new MigrationAbortedError(this.peer, message.reason)
      throw new UnexpectedResponseError(`${message.type} while waiting for ${what}`)
    }
  }

  /**
   * Runs `work` while watching the peer: when its stream ends or it sends ABORT (it gave up), the signal `work`
   * gets aborts and that is the error thrown. A frame that comes meanwhile is kept for the next `expect`.
   */
  async watching<T> (work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    this.pending ??= this.framed.readMessage('the next frame', decodeMigrate, WATCH_TIMEOUT_MS, this.signal)
    let lost: Error | undefined
    const giveUp = (err: Error): void => { lost = err; controller.abort(err) }
    this.pending.then(message => {
      if (message.type === 'ABORT') giveUp(new MigrationAbortedError(this.peer, message.reason))
    }, (err: unknown) => { giveUp(err instanceof Error ? err : new Error(String(err))) })
    try {
      return await work(AbortSignal.any([this.signal, controller.signal]))
    } catch (err) {
      throw lost ?? err
    }
  }

  private async next (what: string, timeoutMs: number): Promise<MigrateMessage> {
    const pending = this.pending
    this.pending = undefined
    if (pending === undefined) return await this.framed.readMessage(what, decodeMigrate, timeoutMs, this.signal)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new PeerTimeoutError(this.peer, `reading ${what}`, timeoutMs)) }, timeoutMs)
    })
    try {
      return await Promise.race([pending, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs `work`, sending PROGRESS (`phase`, and `bytes()` when given) every few seconds until it settles. */
  async keepAlive<T> (phase: string, work: Promise<T>, bytes?: () => number): Promise<T> {
    const timer = setInterval(() => {
      void this.send({ type: 'PROGRESS', phase, ...(bytes !== undefined ? { bytes: bytes() } : {}) }).catch(() => {})
    }, PROGRESS_INTERVAL_MS)
    try {
      return await work
    } finally {
      clearInterval(timer)
    }
  }

  /** Half-closes our side after what was queued. */
  async close (): Promise<void> {
    await this.writing
    await this.framed.close(WRITE_TIMEOUT_MS)
  }

  abort (err: Error): void {
    this.framed.abort(err)
  }
}
