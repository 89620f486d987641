/**
 * sendGrowing with a fake pull (a partial file and a fetch promise the test settles): the verified prefix goes
 * out as it grows, the last byte waits for the whole digest, and bytes that do not hash to the digest end in a
 * cut connection, never in a complete body.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { digestOf, type Digest } from '../../../src/oci/digest.ts'
import { sendGrowing, type GrowingBlobs } from '../../../src/registry/growing.ts'
import { listenHttp } from '../../../src/util/http-server.ts'
import { tempDir } from '../../helpers/temp.ts'

/** A pull in flight: `bytes` verified of the file at `path`, its news on `grow()`, its end on `finish()`. */
function fakePull (path: string, size: number): { growing: GrowingBlobs, grow: (bytes: number) => void, finish: () => void, fetch: Promise<number> } {
  let verified = 0
  let wake = (): void => {}
  const done = Promise.withResolvers<number>()
  return {
    growing: {
      prefix: async () => ({ path, size, bytes: verified, version: String(verified) }),
      changed: async (_digest, version, _ms, signal) => {
        if (version !== String(verified)) return
        await new Promise<void>(resolve => { wake = resolve; signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      }
    },
    grow: bytes => { verified = bytes; wake() },
    finish: () => { done.resolve(size) },
    fetch: done.promise
  }
}

/** Serves one blob with sendGrowing; `stored` is what the store gives once the fetch ended. */
async function serve (t: TestContext, digest: Digest, pull: ReturnType<typeof fakePull>, stored: Buffer): Promise<string> {
  const server = createServer((req, res) => {
    const controller = new AbortController()
    res.once('close', () => { controller.abort() })
    void sendGrowing(res, {
      digest,
      expectedSize: stored.byteLength,
      fetch: pull.fetch,
      growing: pull.growing,
      headers: size => ({ 'content-length': size }),
      readStored: async (start, end) => Readable.from([stored.subarray(start, end)]),
      signal: controller.signal
    }).catch(() => { res.destroy() })
  })
  const listening = await listenHttp(server, '127.0.0.1', 0)
  t.after(async () => { await listening.close() })
  return listening.url
}

async function setup (t: TestContext, partial: Buffer, blob: Buffer): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>, pull: ReturnType<typeof fakePull> }> {
  const path = join(await tempDir(t, 'emergence-growing-'), 'partial')
  await writeFile(path, partial)
  const pull = fakePull(path, blob.byteLength)
  const url = await serve(t, digestOf(blob), pull, blob)
  pull.grow(1000)
  const response = await fetch(url)
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('content-length'), String(blob.byteLength))
  return { reader: (response.body as ReadableStream<Uint8Array>).getReader(), pull }
}

/** Reads exactly `n` bytes (the server sends no more before the test lets it). */
async function readExactly (reader: ReadableStreamDefaultReader<Uint8Array>, n: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let got = 0
  while (got < n) {
    const chunk = await reader.read()
    if (chunk.done) break
    chunks.push(Buffer.from(chunk.value))
    got += chunk.value.byteLength
  }
  return Buffer.concat(chunks)
}

test('the verified prefix goes out as it grows; the rest and the last byte once the whole digest matches', async t => {
  const blob = randomBytes(5000)
  const { reader, pull } = await setup(t, blob, blob)
  assert.deepEqual(await readExactly(reader, 1000), blob.subarray(0, 1000))
  pull.grow(blob.byteLength)
  // Everything but the last byte, before the fetch ended.
  assert.deepEqual(await readExactly(reader, blob.byteLength - 1001), blob.subarray(1000, blob.byteLength - 1))
  pull.finish()
  const rest: Buffer[] = []
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest.push(Buffer.from(chunk.value))
  assert.deepEqual(Buffer.concat(rest), blob.subarray(blob.byteLength - 1))
})

test('bytes that fail the digest (a lying piece list) cut the response before its last byte', async t => {
  const blob = randomBytes(5000)
  const wrong = Buffer.from(blob)
  wrong[10] = (wrong[10] ?? 0) ^ 0xff
  const { reader, pull } = await setup(t, wrong, blob)
  let received = (await readExactly(reader, 1000)).byteLength
  pull.grow(blob.byteLength)
  pull.finish()
  await assert.rejects(async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value.byteLength
  })
  assert.ok(received < blob.byteLength, `received ${received} of ${blob.byteLength} bytes`)
})
