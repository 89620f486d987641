/**
 * What a node's binary cache serves, against the real Nix store: by default only the paths the node shared
 * (`sharePaths`, as `emergence nix share` does) or pulled, never the rest of the local store; every path of the
 * local store only when the operator opts in (`nixCacheWholeStore`, PeerPathSource's `serveLocalStore`).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import {
  LocalNix, PeerPathSource, createBinaryCache, generateSecretKey, narDigestOf, parseNarInfo, sharePaths,
  type FetchContext, type NixNetwork
} from '../../../src/nix/index.ts'
import { Store } from '../../../src/store/store.ts'
import { silentLogger } from '../../../src/util/logger.ts'
import { NIX_ENV, buildTestClosure, makeTempDir, removeDir, requireNix, type TestClosure } from './helpers.ts'

let work: string | undefined
let closure: TestClosure
let ctx: FetchContext
const key = generateSecretKey('exposure-1')

/** No peers: everything the cache serves comes from this node. */
const offline: NixNetwork = {
  resolve: async () => { throw new Error('no network in this test') },
  resolveAt: async () => undefined,
  pullBlob: async () => { throw new Error('no network in this test') },
  blobAdded: () => {}
}

before(async () => {
  await requireNix()
  work = await makeTempDir()
  closure = await buildTestClosure(work)
  const store = await Store.open(join(work, 'oci'))
  ctx = { store, nix: new LocalNix({ env: NIX_ENV }), signingKey: key, trustedKeys: [], logger: silentLogger, network: offline }
  // Share `lib` only (its closure is itself); `app` and `big` stay in the Nix store, unshared.
  await sharePaths(ctx, [closure.lib])
})
after(async () => { await removeDir(work) })

const hashPart = (path: string): string => path.slice('/nix/store/'.length, '/nix/store/'.length + 32)

async function cacheOf (t: { after: (fn: () => Promise<void>) => void }, serveLocalStore?: boolean): Promise<string> {
  const cache = await createBinaryCache({ source: new PeerPathSource(ctx, serveLocalStore === undefined ? {} : { serveLocalStore }), signingKey: key })
  t.after(async () => { await cache.close() })
  return cache.url
}

test('by default the cache serves a shared path and answers 404 for an unshared path of the same Nix store', async (t) => {
  const url = await cacheOf(t)
  const shared = await fetch(`${url}/${hashPart(closure.lib)}.narinfo`)
  assert.equal(shared.status, 200)
  const info = parseNarInfo(await shared.text())
  assert.equal(info.path, closure.lib)
  const nar = Buffer.from(await (await fetch(`${url}/${info.url}`)).arrayBuffer())
  assert.deepEqual(await narDigestOf([nar]), { narHash: info.narHash, narSize: info.narSize })
  assert.equal(await ctx.nix.isValid(closure.app), true, 'the unshared path is in the local Nix store')
  for (const path of [closure.app, closure.big]) {
    assert.equal((await fetch(`${url}/${hashPart(path)}.narinfo`)).status, 404, path)
  }
  const appInfo = await ctx.nix.pathInfo(closure.app)
  const narUrl = `${url}/nar/${appInfo.narHash.slice('sha256:'.length)}-${hashPart(closure.app)}.nar`
  assert.equal((await fetch(narUrl)).status, 404, 'nor its NAR, asked for by URL')
})

test('with serveLocalStore (nixCacheWholeStore) the cache serves every valid path of the local store', async (t) => {
  const url = await cacheOf(t, true)
  for (const path of closure.all) {
    const res = await fetch(`${url}/${hashPart(path)}.narinfo`)
    assert.equal(res.status, 200, path)
    assert.equal(parseNarInfo(await res.text()).path, path)
  }
})
