/**
 * Faults of the pulling node itself, on network-namespace hosts with real processes: the puller SIGKILLed while
 * it writes a blob and restarted (the pull resumes from the pieces it saved), and a full disk (its data dir on a
 * small tmpfs). Nothing partial is ever visible as a blob or a ref; every case ends with `store verify` clean on
 * every node and every completed image intact. Needs root (namespaces, tc, mount).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeStatus } from '../../../src/daemon/daemon.ts'
import { parsePieces } from '../../../src/p2p/pulling/pull-state.ts'
import { fileFixture } from '../../helpers/temp.ts'
import { assertAbsent, assertAllIntact, assertVerified, buildImages, failed, pulled, startSwarm, type FaultImage } from './images.ts'
import { Lab, control, waitFor, type HostNode } from './lab.ts'

const PFX = 'embfp'
const MiB = 1024 * 1024
const images = fileFixture(async dir => await buildImages(dir, { big: 24 }), 'emergence-faults-')

/** Bytes of the verified pieces the partial blob's state file records (store/partial.ts, p2p/pulling/pull-state.ts). */
async function savedBytes (node: HostNode, image: FaultImage): Promise<number> {
  const file = join(node.dataDir, 'oci', '.emergence', 'partial', `sha256-${image.layer.digest.slice('sha256:'.length)}.json`)
  const state = await readFile(file, 'utf8').then(text => JSON.parse(text) as { pieces?: unknown }, () => undefined)
  const saved = parsePieces(state?.pieces, image.layer.digest, image.layer.size)
  return saved === undefined ? 0 : saved.verified.count() * saved.list.pieceSize
}

test('the puller SIGKILLed mid-write and restarted: nothing partial visible, and the pull resumes', async t => {
  const { big } = await images()
  const lab = await Lab.open(t, PFX, 2)
  const { seeds: [seed], puller } = await startSwarm(lab, [big])
  assert.ok(seed !== undefined)
  await lab.shape(seed.host, { up: '40mbit' })
  const pulling = puller.cli(['pull', big.ref], { json: true })
  await waitFor('6 MiB of verified pieces saved', async () => await savedBytes(puller, big) >= 6 * MiB)
  await lab.kill(puller)
  assert.match(failed(await pulling), /the node closed the stream before it finished/)
  const saved = await savedBytes(puller, big)
  assert.ok(saved >= 6 * MiB && saved < big.layer.size, `saved ${saved} bytes`)
  await assertAbsent(puller, big)
  await assertVerified(puller)

  const restarted = await lab.start(puller.host, { dataDir: puller.dataDir, bootstrap: [seed], trusted: [seed] })
  await waitFor('the restarted puller to connect', async () => (await control<NodeStatus>(restarted, '/v1/status')).peers >= 1)
  const started = Date.now()
  const result = pulled(await restarted.cli(['pull', big.ref], { json: true }))
  t.diagnostic(`resumed with ${saved} bytes saved, fetched ${result.fetchedBytes} in ${Date.now() - started} ms`)
  assert.ok(result.fetchedBytes <= big.bytes - saved, `fetched ${result.fetchedBytes} of ${big.bytes} bytes with ${saved} saved`)
  await assertAllIntact([seed, restarted], [big])
})

test('a full disk: one clear error line, nothing partial visible, and the pull completes once space is freed', async t => {
  const { big } = await images()
  const lab = await Lab.open(t, PFX, 2)
  const disk = await lab.tmpfs('48m')
  const { seeds: [seed], puller } = await startSwarm(lab, [big], disk)
  assert.ok(seed !== undefined)
  // 48 MiB less 32 MiB of other files leaves too little for the 24 MiB layer.
  const filler = join(disk, 'filler')
  await writeFile(filler, Buffer.alloc(32 * MiB))
  const line = failed(await puller.cli(['pull', big.ref]))
  t.diagnostic(`the CLI said: ${line}`)
  assert.match(line, /space|ENOSPC/i)
  assert.ok(line.length < 300, line)
  await assertAbsent(puller, big)
  await assertVerified(puller)

  await rm(filler)
  const result = pulled(await puller.cli(['pull', big.ref], { json: true }))
  assert.equal(result.descriptor.digest, big.digest)
  await assertAllIntact([seed, puller], [big])
})
