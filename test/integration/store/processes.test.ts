/** The store shared by separate processes: concurrent writers of one blob, a writer killed mid-blob, ref updates. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Store } from '../../../src/store/store.ts'
import { parseIndex } from '../../../src/oci/types.ts'
import { patternDigest } from '../../helpers/bytes.ts'
import { spawnNodeScript } from '../../helpers/client.ts'
import { blobsOnDisk, listDir, putImage } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { tool } from '../../helpers/tools.ts'

const CLIENT = fileURLToPath(new URL('./fixtures/store-client.ts', import.meta.url))

async function fileDigest (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return `sha256:${hash.digest('hex')}`
}

test('two processes writing the same 64 MiB blob at once end with one correct blob and no temp files', async (t) => {
  const root = join(await tempDir(t), 'store')
  const store = await Store.open(root)
  const chunks = 64
  const chunkSize = 1024 * 1024
  const expected = patternDigest(chunks, chunkSize)
  const writers = [0, 1].map(() => spawnNodeScript(t, CLIENT, [root, 'write', String(chunks), String(chunkSize), '0']))
  await Promise.all(writers.map(async w => { await w.waitFor('ready') }))
  for (const w of writers) w.child.stdin.end('go\n')
  const exits = await Promise.all(writers.map(async w => await w.exited))
  for (const [i, exit] of exits.entries()) {
    assert.equal(exit.code, 0, exit.stderr)
    assert.deepEqual(JSON.parse(writers[i]?.lines.at(-1) ?? ''), expected)
  }
  assert.deepEqual(await blobsOnDisk(store), [expected.digest])
  assert.equal(await fileDigest(store.paths.blob(expected.digest)), expected.digest)
  assert.equal((await store.blobs.stat(expected.digest))?.size, expected.size)
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('a writer killed mid-blob leaves no visible blob, and the next open removes its temp file', async (t) => {
  const root = join(await tempDir(t), 'store')
  const store = await Store.open(root)
  // 512 chunks of 16 KiB with a pause before each: the write takes seconds, the kill lands in the middle.
  const writer = spawnNodeScript(t, CLIENT, [root, 'write', '512', String(16 * 1024), '10'])
  await writer.waitFor('ready')
  writer.child.stdin.end('go\n')
  await writer.waitFor('writing')
  const pid = writer.child.pid
  writer.child.kill('SIGKILL')
  const exit = await writer.exited
  assert.equal(exit.signal, 'SIGKILL')
  assert.equal(writer.lines.some(l => l.startsWith('{')), false, 'the writer did not finish')

  const { digest } = patternDigest(512, 16 * 1024)
  assert.equal(await store.blobs.has(digest), false)
  assert.deepEqual(await blobsOnDisk(store), [])
  const left = await readdir(store.paths.tmpDir)
  assert.equal(left.length, 1)
  assert.match(left[0] ?? '', new RegExp(`^blob\\.${String(pid)}\\.`))

  await Store.open(root)
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
  assert.deepEqual(await blobsOnDisk(store), [])
})

test('ref updates from two processes at once are all kept in index.json', async (t) => {
  const root = join(await tempDir(t), 'store')
  const store = await Store.open(root)
  const img = await putImage(store, ['layer'])
  const clients = ['a', 'b'].map(prefix => spawnNodeScript(t, CLIENT, [root, 'tag', prefix, '15', img.manifest.digest, String(img.manifest.size)]))
  await Promise.all(clients.map(async c => { await c.waitFor('ready') }))
  for (const c of clients) c.child.stdin.end('go\n')
  for (const exit of await Promise.all(clients.map(async c => await c.exited))) assert.equal(exit.code, 0, exit.stderr)
  const index = parseIndex(await readFile(store.paths.indexFile))
  assert.equal(index.manifests.length, 30)
  assert.equal((await store.refs.list()).filter(e => e.ref.startsWith('a:')).length, 15)
  // umoci, the reference implementation, reads the result as a valid layout index.
  const listed = (await tool('umoci', ['ls', '--layout', root])).trim().split('\n').sort()
  assert.deepEqual(listed, (await store.refs.list()).map(e => e.ref).sort())
  assert.equal(listed.length, 30)
  assert.deepEqual(await listDir(store.paths.tmpDir), [])
})

test('processes opening a fresh store at once all succeed and leave one valid layout', async (t) => {
  const root = join(await tempDir(t), 'store')
  const clients = [0, 1, 2, 3].map(() => spawnNodeScript(t, CLIENT, [root, 'open']))
  await Promise.all(clients.map(async c => { await c.waitFor('ready') }))
  for (const c of clients) c.child.stdin.end('go\n')
  for (const exit of await Promise.all(clients.map(async c => await c.exited))) assert.equal(exit.code, 0, exit.stderr)
  assert.deepEqual(JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' })
  assert.deepEqual(parseIndex(await readFile(join(root, 'index.json'))).manifests, [])
  assert.equal((await tool('umoci', ['ls', '--layout', root])).trim(), '')
})
