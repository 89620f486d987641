import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import {
  createBinaryCache, generateSecretKey, narDigestOf, narStrings, parseNarInfo, verifySignature
} from '../../../src/nix/index.ts'
import type { PathInfo, PathSource } from '../../../src/nix/index.ts'
import type { TestContext } from 'node:test'

const HASH = '3cqrw6r0j8skpzwa5fhgjwx5jwrgai67'
const DEP = '/nix/store/37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep'

/** An in-memory PathSource holding one path whose NAR is a single 1 MiB file. */
async function memorySource (): Promise<{ source: PathSource, info: PathInfo, nar: Buffer, opened: () => number }> {
  const contents = Buffer.alloc(1024 * 1024, 'n')
  const nar = Buffer.concat([narStrings('nix-archive-1', '(', 'type', 'regular', 'contents', contents, ')')])
  const info: PathInfo = {
    path: `/nix/store/${HASH}-thing`,
    ...(await narDigestOf([nar])),
    references: [DEP],
    sigs: ['upstream-1:c2ln']
  }
  let opens = 0
  const source: PathSource = {
    lookup: async (hashPart) => hashPart === HASH ? info : undefined,
    openNar: (asked) => {
      assert.equal(asked.path, info.path)
      opens++
      return (async function * () { for (let i = 0; i < nar.length; i += 65536) yield nar.subarray(i, i + 65536) })()
    }
  }
  return { source, info, nar, opened: () => opens }
}

async function get (url: string, method = 'GET'): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, signal: AbortSignal.timeout(10_000) }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

async function start (t: TestContext) {
  const memory = await memorySource()
  const key = generateSecretKey('test-cache-1')
  const cache = await createBinaryCache({ source: memory.source, signingKey: key, port: 0 })
  t.after(() => cache.close())
  return { ...memory, key, cache }
}

test('nix-cache-info names the store and asks for mass queries', async (t) => {
  const { cache } = await start(t)
  const res = await get(`${cache.url}/nix-cache-info`)
  assert.equal(res.status, 200)
  assert.equal(res.body.toString(), 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n')
})

test('a narinfo is served signed, with an uncompressed NAR URL; HEAD has no body', async (t) => {
  const { cache, info, key } = await start(t)
  const head = await get(`${cache.url}/${HASH}.narinfo`, 'HEAD')
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  const res = await get(`${cache.url}/${HASH}.narinfo`)
  assert.equal(res.status, 200)
  assert.equal(res.headers['content-type'], 'text/x-nix-narinfo')
  assert.equal(Number(res.headers['content-length']), res.body.length)
  const narinfo = parseNarInfo(res.body.toString())
  assert.equal(narinfo.path, info.path)
  assert.equal(narinfo.narHash, info.narHash)
  assert.equal(narinfo.narSize, info.narSize)
  assert.equal(narinfo.compression, 'none')
  assert.deepEqual(narinfo.references, [DEP])
  assert.equal(narinfo.url, `nar/${info.narHash.slice(7)}-${HASH}.nar`)
  assert.equal(narinfo.sigs[0], 'upstream-1:c2ln', 'signatures already there are kept')
  assert.ok(verifySignature(narinfo, narinfo.sigs[1] ?? '', [key.publicKey]))
})

test('an absent path, a malformed name or a NAR of another hash is a 404; other methods 405', async (t) => {
  const { cache, info } = await start(t)
  assert.equal((await get(`${cache.url}/${'0'.repeat(32)}.narinfo`)).status, 404)
  assert.equal((await get(`${cache.url}/${'0'.repeat(32)}.narinfo`, 'HEAD')).status, 404)
  assert.equal((await get(`${cache.url}/${HASH}.narinf`)).status, 404)
  assert.equal((await get(`${cache.url}/nar/${'0'.repeat(52)}-${HASH}.nar`)).status, 404)
  assert.equal((await get(`${cache.url}/nar/${info.narHash.slice(7)}.nar`)).status, 404, 'a bare NAR URL before its narinfo')
  assert.equal((await get(`${cache.url}/${HASH}.narinfo`, 'POST')).status, 405)
})

test('the NAR streams with its length and hashes to the narHash; the bare URL works once announced', async (t) => {
  const { cache, info, nar, opened } = await start(t)
  const narinfo = parseNarInfo((await get(`${cache.url}/${HASH}.narinfo`)).body.toString())
  const res = await get(`${cache.url}/${narinfo.url}`)
  assert.equal(res.status, 200)
  assert.equal(Number(res.headers['content-length']), info.narSize)
  assert.deepEqual(res.body, nar)
  assert.deepEqual(await narDigestOf([res.body]), { narHash: info.narHash, narSize: info.narSize })
  const head = await get(`${cache.url}/${narinfo.url}`, 'HEAD')
  assert.equal(head.status, 200)
  assert.equal(head.body.length, 0)
  assert.equal(opened(), 1, 'HEAD does not open the NAR')
  assert.deepEqual((await get(`${cache.url}/nar/${info.narHash.slice(7)}.nar`)).body, nar)
})

test('a source that fails mid-NAR cuts the response short instead of ending it cleanly', async (t) => {
  const { info } = await memorySource()
  const source: PathSource = {
    lookup: async () => info,
    openNar: () => (async function * () {
      yield Buffer.alloc(1000)
      throw new Error('peer went away')
    })()
  }
  const cache = await createBinaryCache({ source })
  t.after(() => cache.close())
  // The server must reset the connection: a response left hanging would only fail on the client's timeout (or
  // when an idle keep-alive socket is closed, which is off here), and neither may count as the cut.
  cache.server.keepAliveTimeout = 0
  await assert.rejects(get(`${cache.url}/nar/${info.narHash.slice(7)}-${HASH}.nar`), (err: NodeJS.ErrnoException) => {
    assert.notEqual(err.name, 'TimeoutError')
    assert.notEqual(err.name, 'AbortError')
    assert.equal(err.code, 'ECONNRESET', `${err.name}: ${err.message}`)
    return true
  })
})
