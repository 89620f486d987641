/**
 * `emergence run` end to end with the real runc: output and exit code pass through, overrides work, detached
 * containers are listed, stopped and removed, and an image the node lacks is pulled from a peer first.
 */
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCluster, stopAll, runToEnd, EMERGENCE_BIN, type ClusterNode } from '../../scripts/lib/cluster.ts'
import { buildBusyboxImage } from '../../scripts/lib/busybox-image.ts'

let work = ''
let layout = ''
let nodes: ClusterNode[] = []

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'emergence-run-'))
  layout = await buildBusyboxImage(work, { script: 'echo hello from runc; exit 7' })
})

after(async () => {
  await stopAll(nodes)
  // Containers live under the data dirs: remove them through the CLI so runc forgets them too.
  for (const dir of [join(work, 'solo'), join(work, 'a'), join(work, 'b')]) {
    const ps = await runToEnd(EMERGENCE_BIN, ['--data-dir', dir, '--json', 'ps'])
    const ids = ps.status === 0 ? (JSON.parse(ps.stdout) as Array<{ id: string }>).map(c => c.id) : []
    if (ids.length > 0) await runToEnd(EMERGENCE_BIN, ['--data-dir', dir, 'rm', '--force', ...ids])
  }
  await rm(work, { recursive: true, force: true })
})

const cli = async (dataDir: string, args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> =>
  await runToEnd(EMERGENCE_BIN, ['--data-dir', dataDir, ...args])

test('run passes the output and the exit code through, and takes a command after --', async () => {
  const dir = join(work, 'solo')
  assert.equal((await cli(dir, ['image', 'import', `${layout}:1`, '--name', 'e2e/busybox:1'])).status, 0)
  const run = await cli(dir, ['run', '--rm', 'e2e/busybox:1'])
  assert.equal(run.status, 7, run.stderr)
  assert.equal(run.stdout, 'hello from runc\n')
  const custom = await cli(dir, ['run', '--rm', '-e', 'WHO=world', 'e2e/busybox:1', '--', '-c', 'echo "hi $WHO"; exit 3'])
  assert.equal(custom.status, 3, custom.stderr)
  assert.equal(custom.stdout, 'hi world\n')
})

test('a detached container shows in ps, stops and is removed', async () => {
  const dir = join(work, 'solo')
  const started = await cli(dir, ['run', '--detach', '--name', 'sleeper', 'e2e/busybox:1', '--', '-c', 'sleep 60'])
  assert.equal(started.status, 0, started.stderr)
  const listed = JSON.parse((await cli(dir, ['--json', 'ps'])).stdout) as Array<{ id: string, status: string }>
  assert.equal(listed.find(c => c.id === 'sleeper')?.status, 'running')
  assert.equal((await cli(dir, ['stop', '--timeout', '2', 'sleeper'])).status, 0)
  assert.equal((await cli(dir, ['rm', 'sleeper'])).status, 0)
  const after = JSON.parse((await cli(dir, ['--json', 'ps'])).stdout) as Array<{ id: string }>
  assert.ok(!after.some(c => c.id === 'sleeper'))
})

test('a missing entrypoint is one clear error', async () => {
  const run = await cli(join(work, 'solo'), ['run', '--rm', '--entrypoint', '/bin/nope', 'e2e/busybox:1'])
  assert.notEqual(run.status, 0)
  assert.match(run.stderr, /^emergence: error: .*\/bin\/nope/m)
})

test('an image the node lacks is pulled from a peer, then run', async () => {
  nodes = await startCluster([join(work, 'a'), join(work, 'b')])
  const [a, b] = nodes as [ClusterNode, ClusterNode]
  assert.equal((await a.cli(['image', 'import', `${layout}:1`, '--name', 'e2e/busybox:1'])).status, 0)
  const run = await b.cli(['run', '--rm', 'e2e/busybox:1'])
  assert.equal(run.status, 7, run.stderr)
  assert.equal(run.stdout, 'hello from runc\n')
  const list = JSON.parse((await b.cli(['image', 'ls'], { json: true })).stdout) as Array<{ ref: string }>
  assert.deepEqual(list.map(i => i.ref), ['e2e/busybox:1'])
})

const CLOSURE = `
let
  drv = name: script: deps: builtins.derivation ({ inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ]; } // deps);
  bb = drv "e2e-run-busybox" "/bin/mkdir -p $out/bin && /bin/cp /bin/busybox $out/bin/busybox" {};
in drv "e2e-run-hello" ''
  /bin/mkdir -p $out/bin
  printf '#!%s/bin/busybox sh\\necho "hello from a nix closure"\\nexit 5\\n' $bb > $out/bin/hello
  /bin/chmod 555 $out/bin/hello
'' { inherit bb; }
`

test('a Nix closure runs with runc from its store path, with only its closure mounted', async () => {
  await writeFile(join(work, 'closure.nix'), CLOSURE)
  const built = await runToEnd('nix-build', [join(work, 'closure.nix'), '-o', join(work, 'hello-link'), '--option', 'substituters', '', '--option', 'sandbox', 'false'])
  assert.equal(built.status, 0, built.stderr)
  const hello = built.stdout.trim()
  const run = await cli(join(work, 'solo'), ['run', '--rm', `${hello}/bin/hello`])
  assert.equal(run.status, 5, run.stderr)
  assert.equal(run.stdout, 'hello from a nix closure\n')
  const again = await cli(join(work, 'solo'), ['run', '--rm', hello, '--', `${hello}/bin/hello`])
  assert.equal(again.status, 5, again.stderr)
  // Inside the container /nix/store holds exactly the closure, though the host's store holds more.
  const closure = (await runToEnd('nix-store', ['--query', '--requisites', hello])).stdout.trim().split('\n').sort()
  const busybox = closure.find(path => path.endsWith('-e2e-run-busybox')) ?? ''
  const listing = await cli(join(work, 'solo'), ['run', '--rm', hello, '--', `${busybox}/bin/busybox`, 'ls', '-1', '/nix/store'])
  assert.equal(listing.status, 0, listing.stderr)
  assert.deepEqual(listing.stdout.trim().split('\n').sort(), closure.map(path => path.slice('/nix/store/'.length)))
  assert.ok((await readdir('/nix/store')).length > closure.length, 'the host store holds paths outside the closure')
})

test('a store path that is not in the Nix store, with no node to pull it from, is one clear error', async () => {
  const run = await cli(join(work, 'solo'), ['run', '--rm', '/nix/store/00000000000000000000000000000000-absent/bin/x'])
  assert.notEqual(run.status, 0)
  assert.match(run.stderr, /^emergence: error: \/nix\/store\/0{32}-absent is not in the Nix store, and no node is running/m)
})
