/**
 * A streaming NAR parser (docs/formats.md "NAR") that turns a byte stream into entry events in archive order, checking
 * everything a hostile sender could get wrong: magic, token order, zero padding, entry names (not empty, `.`,
 * `..`, no `/` or NUL), strictly ascending entry order (duplicates refused), length limits, truncation and bytes
 * after the end. It holds one input chunk at a time; file contents are handed on as a stream.
 *
 * Only the canonical form Nix writes is accepted (`executable ""` before `contents`, `contents` always present).
 */
import { ByteReader } from './byte-reader.ts'
import {
  NarDuplicateEntryError, NarEntryNameError, NarMagicError, NarPaddingError, NarSyntaxError, NarUnsortedError
} from './errors.ts'
import { MAX_DEPTH, MAX_NAME_BYTES, MAX_TARGET_BYTES, NAR_MAGIC, compareBytes, padding } from './nar-format.ts'

/** The path of an entry: its names from the root down; `[]` is the root itself. */
export type NarPath = readonly Buffer[]

/** One archive entry; `offset` is where its node starts in the NAR (for error messages). */
export type NarEntry =
  | { type: 'directory', path: NarPath, offset: number }
  | { type: 'symlink', path: NarPath, offset: number, target: Buffer }
  | { type: 'regular', path: NarPath, offset: number, executable: boolean, size: number, contents: AsyncIterable<Uint8Array> }

export interface ParseNarOptions {
  /** Refuse any length or read that goes past this many bytes (e.g. the narSize of a signed narinfo). */
  maxSize?: number
  signal?: AbortSignal
}

/** Longest token the grammar has ("executable"); anything longer is refused before it is read. */
const MAX_TOKEN_BYTES = 16
const CONTENT_CHUNK = 256 * 1024

interface Frame { path: NarPath, previous: Buffer | undefined }

class NarParser {
  readonly #reader: ByteReader
  readonly #stack: Frame[] = []
  readonly #signal: AbortSignal | undefined

  constructor (source: AsyncIterable<Uint8Array>, options: ParseNarOptions) {
    this.#reader = new ByteReader(source, options.maxSize)
    this.#signal = options.signal
  }

  async #length (limit: number): Promise<number> {
    const raw = await this.#reader.exact(8)
    return this.#reader.checkLength(raw.readBigUInt64LE(0), limit)
  }

  async #padding (length: number): Promise<void> {
    const at = this.#reader.offset
    const pad = await this.#reader.exact(padding(length))
    if (pad.some(b => b !== 0)) throw new NarPaddingError(at)
  }

  async #string (limit: number): Promise<Buffer> {
    const length = await this.#length(limit)
    const value = Buffer.from(await this.#reader.exact(length))
    await this.#padding(length)
    return value
  }

  async #token (): Promise<string> {
    return (await this.#string(MAX_TOKEN_BYTES)).toString('latin1')
  }

  async #expect (token: string): Promise<void> {
    const at = this.#reader.offset
    const found = await this.#token()
    if (found !== token) throw new NarSyntaxError(`expected '${token}', found '${found}'`, at)
  }

  async #magic (): Promise<void> {
    const raw = await this.#reader.exact(8)
    if (raw.readBigUInt64LE(0) !== BigInt(NAR_MAGIC.length)) throw new NarMagicError(0)
    const magic = await this.#reader.exact(NAR_MAGIC.length + padding(NAR_MAGIC.length))
    if (magic.toString('latin1') !== NAR_MAGIC + '\0\0\0') throw new NarMagicError(0)
  }

  #checkName (name: Buffer, frame: Frame, at: number): void {
    const dot = 0x2e
    const special = name.length === 0 || (name.length <= 2 && name.every(b => b === dot))
    if (special || name.includes(0x2f) || name.includes(0)) throw new NarEntryNameError(at)
    if (frame.previous !== undefined) {
      const order = compareBytes(frame.previous, name)
      if (order === 0) throw new NarDuplicateEntryError(at)
      if (order > 0) throw new NarUnsortedError(at)
    }
    frame.previous = name
  }

  /**
   * Reads one node. Files and symlinks are read to their closing `)`; a directory is pushed on the stack and its
   * entries are read by the loop in `entries()`.
   */
  async * #node (path: NarPath): AsyncGenerator<NarEntry> {
    const offset = this.#reader.offset
    await this.#expect('(')
    await this.#expect('type')
    const at = this.#reader.offset
    const type = await this.#token()
    if (type === 'directory') {
      if (this.#stack.length >= MAX_DEPTH) throw new NarSyntaxError(`directories nested deeper than ${MAX_DEPTH}`, at)
      this.#stack.push({ path, previous: undefined })
      yield { type: 'directory', path, offset }
      return
    }
    if (type === 'symlink') {
      await this.#expect('target')
      const targetAt = this.#reader.offset
      const target = await this.#string(MAX_TARGET_BYTES)
      if (target.length === 0 || target.includes(0)) throw new NarSyntaxError('empty symlink target or NUL in it', targetAt)
      yield { type: 'symlink', path, offset, target }
    } else if (type === 'regular') {
      yield * this.#regular(path, offset)
    } else {
      throw new NarSyntaxError(`unknown node type '${type}'`, at)
    }
    await this.#expect(')')
  }

  async * #regular (path: NarPath, offset: number): AsyncGenerator<NarEntry> {
    let at = this.#reader.offset
    let tag = await this.#token()
    const executable = tag === 'executable'
    if (executable) {
      await this.#expect('')
      at = this.#reader.offset
      tag = await this.#token()
    }
    if (tag !== 'contents') throw new NarSyntaxError(`expected 'contents', found '${tag}'`, at)
    const size = await this.#length(Number.MAX_SAFE_INTEGER)
    let left = size
    const reader = this.#reader
    const contents = (async function * () {
      while (left > 0) {
        const chunk = await reader.chunk(Math.min(left, CONTENT_CHUNK))
        left -= chunk.length
        yield chunk
      }
    })()
    yield { type: 'regular', path, offset, executable, size, contents }
    await contents.return(undefined)
    await this.#reader.skip(left)
    await this.#padding(size)
  }

  async * entries (): AsyncGenerator<NarEntry> {
    try {
      await this.#magic()
      yield * this.#node([])
      while (this.#stack.length > 0) {
        this.#signal?.throwIfAborted()
        yield * this.#entry()
      }
      if (!(await this.#reader.atEnd())) throw new NarSyntaxError('data after the end of the archive', this.#reader.offset)
    } finally {
      await this.#reader.close()
    }
  }

  /** One `entry ( name N node OBJ )` of the innermost open directory, or the `)` that closes it. */
  async * #entry (): AsyncGenerator<NarEntry> {
    const frame = this.#stack[this.#stack.length - 1] as Frame
    const at = this.#reader.offset
    const tag = await this.#token()
    if (tag === ')') {
      this.#stack.pop()
      // A directory that was an entry of its parent also closes that entry.
      if (this.#stack.length > 0) await this.#expect(')')
      return
    }
    if (tag !== 'entry') throw new NarSyntaxError(`expected 'entry' or ')', found '${tag}'`, at)
    await this.#expect('(')
    await this.#expect('name')
    const nameAt = this.#reader.offset
    const name = await this.#string(MAX_NAME_BYTES)
    this.#checkName(name, frame, nameAt)
    await this.#expect('node')
    const depth = this.#stack.length
    yield * this.#node([...frame.path, name])
    if (this.#stack.length === depth) await this.#expect(')')
  }
}

/**
 * Parses a NAR stream into entries, in archive order (a directory before its entries). The consumer must finish
 * with an entry's `contents` (or leave it) before asking for the next entry. Throws the typed NarError subclasses.
 */
export function parseNar (source: AsyncIterable<Uint8Array>, options: ParseNarOptions = {}): AsyncGenerator<NarEntry> {
  return new NarParser(source, options).entries()
}

/** Reads a whole NAR and throws if it is malformed; contents are streamed through and dropped. */
export async function validateNar (source: AsyncIterable<Uint8Array>, options: ParseNarOptions = {}): Promise<void> {
  for await (const entry of parseNar(source, options)) {
    if (entry.type === 'regular') for await (const _ of entry.contents);
  }
}
