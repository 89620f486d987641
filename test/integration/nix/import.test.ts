/**
 * LocalNix.importPaths into a second (chroot) store through `nix-store --store DIR --import`: the closure lands in
 * dependency order and verifies; bad NARs, missing references and unsigned paths are refused with nothing
 * registered; and the second store can serve the closure on to a third through our binary cache.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  LocalNix, createBinaryCache, formatPublicKey, generateSecretKey, signPathInfo
} from '../../../src/nix/index.ts'
import type { ExportItem, PathInfo } from '../../../src/nix/index.ts'
import { NIX_COMMAND, NIX_ENV, buildTestClosure, makeTempDir, nixStore, removeDir, requireNix, tempDir } from './helpers.ts'
import type { TestClosure } from './helpers.ts'

const run = promisify(execFile)

let closure: TestClosure
let work: string | undefined
let infos: PathInfo[]
const local = new LocalNix({ env: NIX_ENV })

before(async () => {
  await requireNix()
  work = await makeTempDir()
  closure = await buildTestClosure(work)
  infos = await local.closure([closure.app])
})
after(() => removeDir(work))

function items (selected: readonly PathInfo[] = infos): ExportItem[] {
  // Given in reverse order on purpose: importPaths sorts dependencies first itself.
  return [...selected].reverse().map(info => ({ info, nar: () => local.dumpNar(info.path) }))
}

async function * tampered (source: AsyncIterable<Uint8Array>, at: number): AsyncGenerator<Uint8Array> {
  let offset = 0
  for await (const chunk of source) {
    const copy = Buffer.from(chunk)
    if (at >= offset && at < offset + copy.length) copy[at - offset] = (copy[at - offset] ?? 0) ^ 0x20
    offset += copy.length
    yield copy
  }
}

test('the closure imports into a second store, dependencies first, and Nix verifies it', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const imported = await target.importPaths(items())
  assert.deepEqual([...imported].sort(), [...closure.all].sort())
  assert.equal(imported.at(-1), closure.app)
  for (const path of closure.all) await nixStore(['--store', store, '--verify-path', path])
  assert.deepEqual((await nixStore(['--store', store, '--query', '--requisites', closure.app])).trim().split('\n').sort(), [...closure.all].sort())
  const copied = await target.closure([closure.app])
  assert.deepEqual(copied.map(i => ({ ...i, sigs: [] })), infos.map(i => ({ ...i, sigs: [] })))
  assert.equal(await target.findPathByHashPart(closure.big.slice(11, 43)), closure.big)
  assert.deepEqual(await target.importPaths(items()), [], 'valid paths are skipped')
})

test('a NAR that does not match its narHash is refused and its path is not registered', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const bad = items().map(item => item.info.path === closure.big
    ? { ...item, nar: () => tampered(local.dumpNar(closure.big), 1_000_000) }
    : item)
  await assert.rejects(target.importPaths(bad), { name: 'NarHashMismatchError' })
  assert.equal(await target.isValid(closure.big), false)
  assert.equal(await target.isValid(closure.app), false)
})

test('a NAR longer or shorter than its narSize is refused', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const lib = infos.find(i => i.path === closure.lib) as PathInfo
  await assert.rejects(target.importPaths([{ info: { ...lib, narSize: lib.narSize - 8 }, nar: () => local.dumpNar(lib.path) }]), { name: 'NarSizeMismatchError' })
  await assert.rejects(target.importPaths([{ info: { ...lib, narSize: lib.narSize + 8 }, nar: () => local.dumpNar(lib.path) }]), { name: 'NarSizeMismatchError' })
  assert.equal(await target.isValid(closure.lib), false)
})

test('a path whose references are neither imported nor valid is refused before anything is sent', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  await assert.rejects(target.importPaths(items(infos.filter(i => i.path !== closure.lib))), { name: 'MissingReferenceError' })
  assert.equal(await target.isValid(closure.big), false)
})

test('with trusted keys, only signed paths are imported', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const key = generateSecretKey('peer-1')
  await assert.rejects(target.importPaths(items(), { trustedKeys: [key.publicKey] }), { name: 'SignatureError' })
  assert.equal(await target.isValid(closure.lib), false)
  const signed = infos.map(info => ({ ...info, sigs: [signPathInfo(info, key)] }))
  assert.equal((await target.importPaths(items(signed), { trustedKeys: [key.publicKey] })).length, 3)
})

test('a second store serves the closure on to a third through the binary cache', async (t) => {
  const dir = await tempDir(t)
  const second = new LocalNix({ env: NIX_ENV, storeRoot: join(dir, 'second') })
  await second.importPaths(items())
  const key = generateSecretKey('second-1')
  const cache = await createBinaryCache({ nix: second, signingKey: key })
  t.after(() => cache.close())
  await run('nix', [...NIX_COMMAND, 'copy', '--from', cache.url, '--to', join(dir, 'third'),
    '--option', 'substituters', '', '--option', 'trusted-public-keys', formatPublicKey(key.publicKey),
    '--option', 'narinfo-cache-negative-ttl', '0', '--option', 'narinfo-cache-positive-ttl', '0', closure.app],
  { env: { ...NIX_ENV, XDG_CACHE_HOME: join(dir, 'xdg') } })
  for (const path of closure.all) await nixStore(['--store', join(dir, 'third'), '--verify-path', path])
})
