import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import {
  LocalNix, dumpNar, narDigestOfPath, parseNixHash, restoreNar
} from '../../../src/nix/index.ts'
import { NIX_ENV, buildTestClosure, makeTempDir, nixStore, nixStoreBytes, removeDir, requireNix, tempDir } from './helpers.ts'
import type { TestClosure } from './helpers.ts'

let closure: TestClosure
let work: string | undefined
const nix = new LocalNix({ env: NIX_ENV })

before(async () => {
  await requireNix()
  work = await makeTempDir()
  closure = await buildTestClosure(work)
})
after(() => removeDir(work))

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('our NAR of every closure path is byte-identical to nix-store --dump', async () => {
  assert.equal(closure.all.length, 3)
  for (const path of closure.all) {
    const theirs = await nixStoreBytes(['--dump', path])
    assert.ok((await collect(dumpNar(path))).equals(theirs), path)
    assert.ok((await collect(nix.dumpNarWithNix(path))).equals(theirs), `${path} through nix-store --dump`)
  }
})

test('narHash and narSize equal what Nix reports', async () => {
  for (const path of closure.all) {
    const ours = await narDigestOfPath(path)
    const info = await nix.pathInfo(path)
    assert.deepEqual(ours, { narHash: info.narHash, narSize: info.narSize }, path)
    assert.equal(ours.narHash, parseNixHash((await nixStore(['--query', '--hash', path])).trim()))
    assert.equal(ours.narSize, Number((await nixStore(['--query', '--size', path])).trim()))
  }
})

test('a restored NAR dumps, by Nix itself, to the same bytes', async (t) => {
  const dir = await tempDir(t)
  const target = join(dir, 'restored')
  await restoreNar(nix.dumpNarWithNix(closure.app), target)
  assert.ok((await nixStoreBytes(['--dump', target])).equals(await nixStoreBytes(['--dump', closure.app])))
})

test('LocalNix: path infos match nix-store --query', async () => {
  const info = await nix.pathInfo(closure.app)
  assert.deepEqual(info.references, (await nixStore(['--query', '--references', closure.app])).trim().split('\n').sort())
  assert.deepEqual(info.references, [closure.big, closure.lib].sort())
  assert.equal(info.deriver, (await nixStore(['--query', '--deriver', closure.app])).trim())
  assert.match(info.narHash, /^sha256:[0-9a-z]{52}$/)
})

test('LocalNix: the closure comes dependencies first and equals nix-store -qR', async () => {
  const infos = await nix.closure([closure.app])
  assert.deepEqual(infos.map(i => i.path).sort(), [...closure.all].sort())
  assert.equal(infos.at(-1)?.path, closure.app)
  const position = new Map(infos.map((info, i) => [info.path, i]))
  for (const info of infos) {
    for (const ref of info.references) assert.ok((position.get(ref) ?? Infinity) <= (position.get(info.path) ?? -1), `${ref} before ${info.path}`)
  }
})

test('LocalNix: validity, lookups by hash part, and typed errors', async () => {
  const absent = '/nix/store/00000000000000000000000000000000-absent'
  assert.equal(await nix.isValid(closure.lib), true)
  assert.equal(await nix.isValid(absent), false)
  assert.deepEqual(await nix.validPaths([closure.lib, absent, closure.big]), new Set([closure.lib, closure.big]))
  assert.equal(await nix.findPathByHashPart(closure.lib.slice(11, 43)), closure.lib)
  assert.equal(await nix.findPathByHashPart('0'.repeat(32)), undefined)
  await assert.rejects(nix.pathInfo(absent), { name: 'PathNotValidError' })
  await assert.rejects(nix.isValid('/nix/store/bad'), { name: 'StorePathError' })
  await assert.rejects(collect(new LocalNix({ env: NIX_ENV }).dumpNarWithNix(absent)), (err: Error & { stderr?: string }) => {
    assert.equal(err.name, 'NixCommandError')
    assert.match(err.stderr ?? '', /absent/)
    return true
  })
  await assert.rejects(new LocalNix({ nixStoreCommand: 'no-such-nix-store' }).version(), { name: 'NixCommandError' })
  assert.match(await nix.version(), /Nix\) 2\./)
})
