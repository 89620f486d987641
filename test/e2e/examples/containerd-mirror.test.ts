/**
 * examples/containerd-mirror/run.sh runs as an operator would run it (on free loopback ports): an upstream
 * registry, a node that pulls an image through from it, a second node whose mirror containerd pulls from, and
 * `ctr run` of the image. The test checks what it printed (the container's output, bytes from peers, one
 * download per blob at the upstream) and that it removed its work directory.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort } from '../../../scripts/lib/ports.ts'
import { REPO_ROOT, runCommand } from '../../helpers/tools.ts'

const isRoot = process.getuid?.() === 0

test('examples/containerd-mirror/run.sh: containerd runs an image that came from a peer through the mirror', { skip: !isRoot && 'needs root for containerd' }, async () => {
  const ports = { REGISTRY_PORT: await freePort(), NODE1_PORT: await freePort(), NODE2_PORT: await freePort(), MIRROR_PORT: await freePort() }
  const env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) }
  const result = await runCommand('sh', [join(REPO_ROOT, 'examples', 'containerd-mirror', 'run.sh')], { env })
  const output = `stdout: ${result.stdout}\nstderr: ${result.stderr}`
  assert.equal(result.code, 0, output)
  assert.match(result.stdout, /^pulled 127\.0\.0\.1:\d+\/example\/hello:1 sha256:[0-9a-f]{64}: 0 B from 0 peer\(s\), \S+ \S+ from 127\.0\.0\.1:\d+$/m, output)
  assert.match(result.stdout, /^hello from a peer, through the mirror$/m, output)
  const received = Number(/^node 2 received (\d+) bytes from its peers$/m.exec(result.stdout)?.[1] ?? 0)
  assert.ok(received > 1_000_000, output)
  // The config and the layer: each left the upstream once, for node 1; containerd got them from the mirror.
  assert.match(result.stdout, /^the upstream served 2 blob download\(s\) for the whole cluster$/m, output)
  const work = /^wrote (\S+)\/certs\.d\//m.exec(result.stdout)?.[1]
  assert.ok(work !== undefined, output)
  assert.equal(existsSync(work), false, 'the script removed its work directory')
})
