/**
 * `emergence pull` through from an upstream, with three real daemons (compiled CLI) that name the same upstream
 * (Debian's docker-registry behind a recording front): the first node fetches the image from the upstream and
 * announces it; the second (trusting the first) and the third (trusting nobody: the tag's manifest is the
 * upstream's word) fetch every blob from peers. The upstream serves each blob once for the three.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { tempDir } from '../../helpers/temp.ts'
import { assertCliError, runCli } from '../../helpers/tools.ts'
import { startUpstream } from './helpers.ts'
import { startDetachedNode } from './processes.ts'

interface PullResult { ref: string, descriptor: { digest: string }, fetchedBytes: number, fromPeers: Record<string, number>, fromUpstream?: Record<string, number> }

async function pull (dataDir: string, ref: string): Promise<PullResult> {
  const result = await runCli(['--json', 'pull', ref], { dataDir })
  assert.equal(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as PullResult
}

test('three nodes, one upstream: the first pull fetches from the upstream, the next two only from peers', async t => {
  const dir = await tempDir(t, 'emergence-pull-through-cli-')
  const { front, image } = await startUpstream(t, dir)
  const upstream = ['--registry', 'off', '--registry-upstream', `http://${front.host}`]
  const ref = `${front.host}/app/web:1.0`
  const blobs = image.blobs.slice(1)
  const blobBytes = blobs.reduce((sum, b) => sum + b.size, 0)

  const first = await startDetachedNode(t, join(dir, 'first'), upstream)
  const second = await startDetachedNode(t, join(dir, 'second'), [...upstream, '--bootstrap', `${first.addresses[0] ?? ''}`, '--trusted', first.peerId])
  const third = await startDetachedNode(t, join(dir, 'third'), [...upstream, '--bootstrap', [first, second].map(n => n.addresses[0] ?? '').join(',')])

  const fromUpstream = await pull(join(dir, 'first'), ref)
  assert.equal(fromUpstream.descriptor.digest, image.manifest.digest)
  assert.equal(fromUpstream.fromUpstream?.[front.host], blobBytes)
  for (const [node, dataDir] of [[second, 'second'], [third, 'third']] as const) {
    const pulled = await pull(join(dir, dataDir), ref)
    assert.equal(pulled.ref, ref)
    assert.equal(pulled.descriptor.digest, image.manifest.digest, node.peerId)
    assert.equal(pulled.fromUpstream?.[front.host], 0)
    assert.ok(pulled.fetchedBytes >= blobBytes, `${dataDir}: ${pulled.fetchedBytes} bytes from peers`)
  }
  // Each blob left the upstream once for the three nodes.
  const blobGets = front.requests.filter(r => r.startsWith('GET ') && r.includes('/blobs/'))
  for (const blob of blobs) assert.equal(blobGets.filter(r => r.includes(blob.digest)).length, 1, blob.digest)
  assert.equal(blobGets.length, blobs.length)

  // A ref the upstream does not have is one error line, and nothing is stored under it.
  const missing = assertCliError(await runCli(['pull', `${front.host}/app/none:1.0`], { dataDir: join(dir, 'third') }))
  assert.match(missing, /is at no peer and not at/)
  // A ref that names no upstream is pulled from peers alone, as before.
  const plain = assertCliError(await runCli(['pull', 'app/web:1.0'], { dataDir: join(dir, 'third') }))
  assert.match(plain, /no peer is trusted/)
})
