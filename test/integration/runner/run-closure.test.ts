/**
 * runClosure with real nix and runc: a tiny closure built with `builtins.derivation` (a script whose
 * interpreter is a busybox in a dependency) runs in a bundle that mounts exactly its `nix-store -qR` closure;
 * a store path outside the closure is not visible inside.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { RunnerPaths } from '../../../src/runner/containers.ts'
import { runClosure } from '../../../src/runner/run.ts'
import { deleteAllContainers, run } from './helpers/images.ts'

const EXPRESSION = `
let
  drv = name: script: deps: builtins.derivation ({ inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ]; } // deps);
  bb = drv "runner-test-busybox" "/bin/mkdir -p $out/bin && /bin/cp /bin/busybox $out/bin/busybox" {};
  hello = drv "runner-test-hello" ''
    /bin/mkdir -p $out/bin
    printf '#!%s/bin/busybox sh\\necho "hello from nix"\\n%s/bin/busybox ls /nix/store\\nif [ -e "$1" ]; then echo "outsider visible"; else echo "outsider not visible"; fi\\nexit 7\\n' $bb $bb > $out/bin/hello
    /bin/chmod 555 $out/bin/hello
  '' { inherit bb; };
  outsider = drv "runner-test-outsider" "/bin/mkdir -p $out && echo secret > $out/secret" {};
  escape = drv "runner-test-escape" "/bin/ln -s ../../etc $out" {};
in { inherit hello outsider escape; }
`

describe('runClosure with nix and runc', () => {
  let dir: string
  let dataDir: string
  let hello: string
  let outsider: string
  let closure: string[]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-nix-'))
    dataDir = join(dir, 'data')
    await writeFile(join(dir, 'closure.nix'), EXPRESSION)
    // Out-links in the temp dir are GC roots for the duration of the test; no substituters: build locally.
    const build = async (attr: string): Promise<string> =>
      (await run('nix-build', [join(dir, 'closure.nix'), '-A', attr, '-o', join(dir, attr), '--option', 'substituters', '', '--option', 'sandbox', 'false'])).trim()
    hello = await build('hello')
    outsider = await build('outsider')
    closure = (await run('nix-store', ['-qR', hello])).trim().split('\n')
  })
  after(async () => {
    await deleteAllContainers(new RunnerPaths(dataDir).runcRoot)
    await rm(dir, { recursive: true, force: true })
  })

  it('runs a program that sees exactly its closure', async () => {
    assert.equal(closure.length, 2)
    assert.ok(!closure.includes(outsider))
    const stdout = new PassThrough()
    const chunks: Buffer[] = []
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    const result = await runClosure({ dataDir, closure, args: [`${hello}/bin/hello`, outsider], io: { stdout }, remove: true })
    assert.equal(result.exitCode, 7)
    assert.deepEqual(Buffer.concat(chunks).toString('utf8').trim().split('\n'), [
      'hello from nix',
      ...closure.map(p => basename(p)).sort(),
      'outsider not visible'
    ])
    assert.deepEqual(await readdir(new RunnerPaths(dataDir).bundles), [])
  })

  it('recreates a store path that is a symlink instead of following it to the host', async () => {
    const escape = (await run('nix-build', [join(dir, 'closure.nix'), '-A', 'escape', '-o', join(dir, 'escape'), '--option', 'substituters', '', '--option', 'sandbox', 'false'])).trim()
    const bb = closure.find(p => p !== hello) ?? ''
    const stdout = new PassThrough()
    const chunks: Buffer[] = []
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    const result = await runClosure({
      dataDir, closure: [...closure, escape], args: [`${bb}/bin/busybox`, 'sh', '-c', `${bb}/bin/busybox readlink ${escape}; ${bb}/bin/busybox cat ${escape}/hostname || echo no-host-file`], io: { stdout }, remove: true
    })
    assert.equal(result.exitCode, 0)
    const [target, content] = Buffer.concat(chunks).toString('utf8').trim().split('\n')
    assert.equal(target, '../../etc', 'the link is recreated as it is')
    // Inside, ../../etc is the container's own tiny /etc, which has no hostname file: nothing of the host's.
    assert.equal(content, 'no-host-file')
  })

  it('refuses a command outside the closure and paths that are not store paths', async () => {
    const busyboxOnly = closure.filter(p => p !== hello)
    await assert.rejects(runClosure({ dataDir, closure: busyboxOnly, args: [`${hello}/bin/hello`] }), { name: 'EntrypointNotFoundError' })
    await assert.rejects(runClosure({ dataDir, closure: ['/etc'], args: ['/etc/passwd'] }), { name: 'InvalidRunRequestError' })
    await assert.rejects(runClosure({ dataDir, closure: [`${hello}/../../../etc`], args: ['/bin/sh'] }), { name: 'InvalidRunRequestError' })
    assert.deepEqual(await readdir(new RunnerPaths(dataDir).bundles), [])
  })
})
