/** `image build --from` a base that only a peer holds: the running node pulls it first, then the build runs. */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { runCli } from '../../helpers/tools.ts'
import { BASE_REF, busyboxLayout, cliOk, importBusybox, join, openImage } from './helpers.ts'

interface Started { pid: number, peerId: string, addresses: string[] }

describe('image build --from a base held by a peer', () => {
  let work: string
  const nodes: string[] = []
  before(async () => { work = await mkdtemp(join(tmpdir(), 'build-peers-')) })
  after(async () => {
    for (const dataDir of nodes) await runCli(['node', 'stop'], { dataDir })
    await rm(work, { recursive: true, force: true })
  })

  async function start (dataDir: string, extra: string[] = []): Promise<Started> {
    const result = await cliOk(dataDir, ['--json', 'node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0',
      '--nix-cache', 'off', '--registry', 'off', ...extra])
    nodes.push(dataDir)
    return (JSON.parse(result.stdout) as { started: Started }).started
  }

  it('pulls the base through the node, references its blobs, and adds the layer', async () => {
    const holder = join(work, 'holder')
    const builder = join(work, 'builder')
    await importBusybox(await busyboxLayout(join(work, 'bb')), holder)
    const seed = await start(holder)
    await start(builder, ['--bootstrap', seed.addresses[0] ?? '', '--trusted', seed.peerId])
    await mkdir(join(work, 'site'))
    await writeFile(join(work, 'site', 'index.html'), 'from a peer base\n')

    await cliOk(builder, ['image', 'build', '--from', BASE_REF, '--add', `${join(work, 'site')}:/srv`, '-t', 'peers/site:1'])
    const { image } = await openImage(builder, 'peers/site:1')
    const base = await openImage(holder, BASE_REF)
    assert.deepEqual(image.manifest.layers.slice(0, -1).map(l => l.digest), base.image.manifest.layers.map(l => l.digest))
    assert.equal(image.manifest.layers.length, base.image.manifest.layers.length + 1)
    const run = await cliOk(builder, ['run', '--rm', 'peers/site:1', '--', '-c', 'cat /srv/index.html'])
    assert.equal(run.stdout, 'from a peer base\n')
  })
})
