/**
 * examples/three-node-cluster.sh runs as an operator would run it: three nodes in network namespaces, an image
 * built on one and pulled by the two others, then everything stopped and removed. The test checks what it
 * printed and that it left no namespace and no process behind.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT, runCommand } from '../../helpers/tools.ts'

const PREFIX = 'embxc'
const isRoot = process.getuid?.() === 0

async function namespaces (): Promise<string[]> {
  const listed = await runCommand('ip', ['netns', 'list'])
  return listed.stdout.split('\n').map(line => line.split(' ')[0] ?? '').filter(name => name.startsWith(`${PREFIX}-`))
}

/** After a failure: kill what runs in our namespaces (by pid) and delete them. */
async function removeLeftovers (): Promise<void> {
  for (const ns of await namespaces()) {
    const pids = (await runCommand('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(p => /^\d+$/.test(p))
    for (const pid of pids) process.kill(Number(pid), 'SIGKILL')
    await runCommand('ip', ['netns', 'del', ns])
  }
}

test('examples/three-node-cluster.sh: two nodes pull an image from a third, in namespaces, and it cleans up', { skip: !isRoot && 'needs root for ip netns' }, async t => {
  await removeLeftovers()
  t.after(removeLeftovers)
  const result = await runCommand('sh', [join(REPO_ROOT, 'examples', 'three-node-cluster.sh')], { env: { ...process.env, NS_PREFIX: PREFIX, NET: '10.231.7' } })
  assert.equal(result.code, 0, `stdout: ${result.stdout}\nstderr: ${result.stderr}`)
  const pulled = result.stdout.match(/^pulled example\/site:1 sha256:[0-9a-f]{64}: .* from \d+ peer\(s\)$/gm) ?? []
  assert.equal(pulled.length, 2, result.stdout)
  for (const n of [1, 2, 3]) assert.match(result.stdout, new RegExp(`^node ${n}: example/site:1 sha256:[0-9a-f]{12}$`, 'm'))
  assert.match(result.stdout, /^peers {5}2$/m)
  assert.deepEqual(await namespaces(), [], 'the script removed its namespaces')
})
