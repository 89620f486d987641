/**
 * `emergence image from-nix` on closures built here with nix-build (no nixpkgs: builtins.derivation with
 * /bin/sh): one layer per store path, the image runs under runc with no host store mounted, two images that
 * share a dependency share its layer blob, the layer count is capped by --max-layers, and builds repeat; on a
 * busybox base (--from), the closure's layers come after the base's, which are referenced, and the program runs
 * with the base's /bin/sh.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { tool } from '../../helpers/tools.ts'
import { BASE_REF, builtDigest, busyboxLayout, cliOk, importBusybox, join, openImage } from './helpers.ts'

const CLOSURES = `
let
  drv = name: script: deps: builtins.derivation ({ inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ]; } // deps);
  bb = drv "build-test-busybox" "/bin/mkdir -p $out/bin && /bin/cp /bin/busybox $out/bin/busybox" {};
  onBase = drv "build-test-on-base" ''
    /bin/mkdir -p $out/bin
    printf '#!/bin/sh\\necho "a nix program run by the base sh"\\n' > $out/bin/greet
    /bin/chmod 555 $out/bin/greet
  '' {};
  app = greeting: drv "build-test-\${greeting}" ''
    /bin/mkdir -p $out/bin
    printf '#!%s/bin/busybox sh\\necho "${'$'}{greeting} from a nix image"\\n' $bb > $out/bin/${'$'}{greeting}
    /bin/chmod 555 $out/bin/${'$'}{greeting}
  '' { inherit bb; };
in { hello = app "hello"; bye = app "bye"; inherit onBase; }
`

describe('image from-nix', () => {
  let work = ''
  let data = ''
  const paths: Record<string, string> = {}

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'emergence-from-nix-'))
    data = join(work, 'data')
    await writeFile(join(work, 'closures.nix'), CLOSURES)
    for (const attr of ['hello', 'bye', 'onBase']) {
      const out = await tool('nix-build', [join(work, 'closures.nix'), '-A', attr, '-o', join(work, attr), '--option', 'substituters', '', '--option', 'sandbox', 'false'])
      paths[attr] = out.trim()
    }
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('has one layer per store path and runs under runc with only its own layers', async () => {
    const hello = paths.hello as string
    await cliOk(data, ['image', 'from-nix', hello, '-t', 'nix/hello:1'])
    const { image } = await openImage(data, 'nix/hello:1')
    const closure = (await tool('nix-store', ['--query', '--requisites', hello])).trim().split('\n')
    assert.equal(image.manifest.layers.length, closure.length)
    const layerPaths = (image.config.history ?? []).map(h => `/nix/store/${String(h.created_by).replace('emergence image from-nix: ', '')}`)
    assert.deepEqual([...layerPaths].sort(), [...closure].sort())
    assert.deepEqual(image.config.config?.Entrypoint, [`${hello}/bin/hello`])
    const run = await cliOk(data, ['run', '--rm', 'nix/hello:1'])
    assert.equal(run.stdout, 'hello from a nix image\n')
    // No host store: /nix/store in the container holds the closure only, though the host holds more.
    const busybox = closure.find(p => p.endsWith('-build-test-busybox')) as string
    const listing = await cliOk(data, ['run', '--rm', '--entrypoint', `${busybox}/bin/busybox`, 'nix/hello:1', '--', 'ls', '-1', '/nix/store'])
    assert.deepEqual(listing.stdout.trim().split('\n').sort(), closure.map(p => p.slice('/nix/store/'.length)).sort())
    assert.ok((await readdir('/nix/store')).length > closure.length)
  })

  it('shares the layer blob of a shared dependency between two images', async () => {
    await cliOk(data, ['image', 'from-nix', join(work, 'bye'), '-t', 'nix/bye:1'])
    const hello = (await openImage(data, 'nix/hello:1')).image
    const bye = (await openImage(data, 'nix/bye:1')).image
    const shared = hello.manifest.layers.filter(h => bye.manifest.layers.some(b => b.digest === h.digest))
    assert.equal(shared.length, 1)
    const busyboxLayer = hello.config.history?.findIndex(h => String(h.created_by).endsWith('-build-test-busybox')) ?? -1
    assert.equal(shared[0]?.digest, hello.manifest.layers[busyboxLayer]?.digest)
    assert.equal((await cliOk(data, ['run', '--rm', 'nix/bye:1'])).stdout, 'bye from a nix image\n')
  })

  it('merges past --max-layers, and gives the same digest in another data dir', async () => {
    const one = await cliOk(data, ['image', 'from-nix', paths.hello as string, '--max-layers', '1', '-t', 'nix/hello:flat'])
    const { image } = await openImage(data, 'nix/hello:flat')
    assert.equal(image.manifest.layers.length, 1)
    assert.equal(image.config.history?.[0]?.created_by, 'emergence image from-nix: 2 store paths')
    assert.equal((await cliOk(data, ['run', '--rm', 'nix/hello:flat'])).stdout, 'hello from a nix image\n')
    const again = await cliOk(join(work, 'other'), ['image', 'from-nix', paths.hello as string, '--max-layers', '1', '-t', 'nix/hello:flat'])
    assert.equal(builtDigest(again), builtDigest(one))
  })

  it('layers a closure on a --from base, whose layers it references', async () => {
    await importBusybox(await busyboxLayout(join(work, 'busybox')), data)
    const onBase = paths.onBase as string
    await cliOk(data, ['image', 'from-nix', onBase, '--from', BASE_REF, '-t', 'nix/on-base:1'])
    const { image } = await openImage(data, 'nix/on-base:1')
    const base = (await openImage(data, BASE_REF)).image
    assert.deepEqual(image.manifest.layers.slice(0, base.manifest.layers.length), base.manifest.layers)
    assert.equal(image.manifest.layers.length, base.manifest.layers.length + 1)
    assert.deepEqual(image.config.rootfs.diff_ids.slice(0, -1), base.config.rootfs.diff_ids)
    assert.deepEqual(image.config.config?.Entrypoint, [`${onBase}/bin/greet`])
    assert.deepEqual(image.config.config?.Env, base.config.config?.Env)
    // The program's interpreter, /bin/sh, comes from the base: the closure has no shell.
    assert.equal((await cliOk(data, ['run', '--rm', 'nix/on-base:1'])).stdout, 'a nix program run by the base sh\n')
  })
})
