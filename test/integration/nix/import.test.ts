/**
 * LocalNix.importPaths into a second (chroot) store: the closure lands in dependency order and verifies; bad NARs,
 * missing references and unsigned paths are refused with nothing registered; and the second store can serve the
 * closure on to a third through our binary cache. As root the paths are restored and registered with
 * `nix-store --load-db` (store-restore.ts, docs/nix.md "Importing"): valid, `--verify --check-contents` clean,
 * with the metadata Nix's own `--import` (the fallback, `importMethod: 'import'`) leaves, the narHash given taken
 * without Nix reading the NAR, nothing registered nor left on disk for a NAR whose hash lies, and files a cut-short
 * import left at an invalid path replaced.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { lstat, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  LocalNix, createBinaryCache, formatPublicKey, generateSecretKey, parseStorePath, signPathInfo, validityRegistration
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

/** Type, mode and mtime of every file under `root`, by relative name (as bytes: some names are not UTF-8). */
async function metadata (root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (rel: Buffer): Promise<void> => {
    const path = Buffer.concat([Buffer.from(root), rel])
    const st = await lstat(path)
    out[rel.toString('latin1')] = `${st.isSymbolicLink() ? 'l' : st.isDirectory() ? 'd' : 'f'} ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs / 1000)}`
    if (!st.isDirectory()) return
    for (const name of await readdir(path, { encoding: 'buffer' })) await walk(Buffer.concat([rel, Buffer.from('/'), name]))
  }
  await walk(Buffer.alloc(0))
  return out
}

test('as root on a chroot store, paths are restored and registered: valid, contents verified, as Nix would leave them', async (t) => {
  const dir = await tempDir(t)
  const restored = new LocalNix({ env: NIX_ENV, storeRoot: join(dir, 'restored') })
  const imported = new LocalNix({ env: NIX_ENV, storeRoot: join(dir, 'imported'), importMethod: 'import' })
  assert.equal(restored.importMethod, 'restore')
  assert.deepEqual([...await restored.importPaths([...items()].reverse())].sort(), [...closure.all].sort())
  assert.deepEqual([...await imported.importPaths(items())].sort(), [...closure.all].sort())
  const store = ['--store', join(dir, 'restored')]
  for (const path of closure.all) await nixStore([...store, '--verify-path', path])
  await nixStore([...store, '--verify', '--check-contents'])
  assert.deepEqual((await nixStore([...store, '--query', '--requisites', closure.app])).trim().split('\n').sort(), [...closure.all].sort())
  assert.deepEqual((await restored.closure([closure.app])).map(i => ({ ...i, sigs: [] })), infos.map(i => ({ ...i, sigs: [] })))
  for (const path of closure.all) {
    assert.deepEqual(await metadata(restored.realPath(path)), await metadata(imported.realPath(path)), `metadata of ${path}`)
  }
  assert.deepEqual((await readdir(restored.realStoreDir)).filter(name => name.includes('.restore-')), [], 'no temp directory is left')
  assert.deepEqual(await restored.importPaths(items()), [], 'valid paths are skipped')
})

test('a NAR this process verified is registered under the narHash given, without Nix reading it', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const lib = infos.find(i => i.path === closure.lib) as PathInfo
  const other = infos.find(i => i.path === closure.big) as PathInfo
  // A hash that is not the NAR's: `nix-store --import` would compute and register the real one.
  await target.importPaths([{ info: { ...lib, narHash: other.narHash }, verified: true, nar: () => local.dumpNar(lib.path) }])
  assert.equal((await target.pathInfo(closure.lib)).narHash, other.narHash)
})

test('a NAR whose narHash lies is refused before registration: nothing registered, no files left', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const lib = infos.find(i => i.path === closure.lib) as PathInfo
  const big = infos.find(i => i.path === closure.big) as PathInfo
  await assert.rejects(target.importPaths([{ info: { ...lib, narHash: big.narHash }, nar: () => local.dumpNar(lib.path) }]), { name: 'NarHashMismatchError' })
  assert.equal(await target.isValid(closure.lib), false)
  assert.deepEqual((await readdir(target.realStoreDir)).filter(name => name !== '.links'), [])
  // In a closure: the path that lies and every path that refers to it stay out; nothing is left on disk for them.
  const bad = items().map(item => item.info.path === closure.big ? { ...item, info: { ...big, narHash: lib.narHash } } : item)
  await assert.rejects(target.importPaths(bad), { name: 'NarHashMismatchError' })
  assert.deepEqual(await target.validPaths(closure.all), new Set([closure.lib]))
  const left = (await readdir(target.realStoreDir)).filter(name => name !== '.links')
  assert.deepEqual(left, [parseStorePath(closure.lib).baseName])
})

test('files an import cut short left at a path that is not valid are replaced', async (t) => {
  const store = join(await tempDir(t), 'store')
  const target = new LocalNix({ env: NIX_ENV, storeRoot: store })
  const lib = infos.find(i => i.path === closure.lib) as PathInfo
  await mkdir(join(target.realPath(closure.lib), 'lib'), { recursive: true })
  await writeFile(join(target.realPath(closure.lib), 'lib', 'data.txt'), 'half')
  assert.deepEqual(await target.importPaths(items([lib])), [closure.lib])
  await nixStore(['--store', store, '--verify-path', closure.lib])
  await nixStore(['--store', store, '--verify', '--check-contents'])
})

test('the registration is what nix-store --load-db reads: path, hash, size, deriver, references', () => {
  const info: PathInfo = { path: '/nix/store/00000000000000000000000000000000-a', narHash: (infos[0] as PathInfo).narHash, narSize: 8, references: ['/nix/store/11111111111111111111111111111111-b', '/nix/store/00000000000000000000000000000000-a'], sigs: [] }
  assert.equal(validityRegistration([info, { ...info, references: [], deriver: '/nix/store/22222222222222222222222222222222-a.drv' }]),
    `${info.path}\n${info.narHash}\n8\n\n2\n/nix/store/00000000000000000000000000000000-a\n/nix/store/11111111111111111111111111111111-b\n` +
    `${info.path}\n${info.narHash}\n8\n/nix/store/22222222222222222222222222222222-a.drv\n0\n`)
})
