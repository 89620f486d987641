/**
 * Images for the fault suite and the checks every case ends with: the busybox image of the demo
 * (`scripts/lib/busybox-image.ts`) with one layer of random bytes on top, so that a pull lasts long enough to be
 * interrupted; `store verify` clean on a node; an image intact (its ref names its digest, every blob it reaches
 * is in the store at its size), or absent with nothing partial visible (no ref, no blob of the big layer).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildBusyboxImage } from '../../../scripts/lib/busybox-image.ts'
import { parseIndex, parseManifest } from '../../../src/oci/types.ts'
import { REF_NAME_ANNOTATION } from '../../../src/oci/reference.ts'
import type { Digest } from '../../../src/oci/digest.ts'
import type { CliResult } from '../../../scripts/lib/cluster.ts'
import { assertCliError, runCli, tool } from '../../helpers/tools.ts'
import { layoutImageDigests } from '../../helpers/umoci.ts'
import type { NodeStatus } from '../../../src/daemon/daemon.ts'
import { control, waitFor, type HostNode, type Lab } from './lab.ts'

export interface FaultImage {
  /** `<layout>:<tag>`, what `emergence image import` takes. */
  source: string
  ref: string
  digest: Digest
  blobs: Set<Digest>
  /** The sizes of all its blobs, added up. */
  bytes: number
  /** The random layer: the blob a fault interrupts. */
  layer: { digest: Digest, size: number }
}

/** Builds one layout holding an image per entry of `layers` (tag -> MiB of random bytes) at `<dir>/layout`. */
export async function buildImages<Tag extends string> (dir: string, layers: Record<Tag, number>): Promise<Record<Tag, FaultImage>> {
  const layout = await buildBusyboxImage(dir, { tag: 'base' })
  const images: Partial<Record<Tag, FaultImage>> = {}
  for (const [tag, mib] of Object.entries(layers) as Array<[Tag, number]>) {
    const file = join(dir, `${tag}.bin`)
    await writeFile(file, randomBytes(mib * 1024 * 1024))
    await tool('umoci', ['insert', '--image', `${layout}:base`, '--tag', tag, file, `/${tag}.bin`])
    images[tag] = await describe(layout, tag)
  }
  return images as Record<Tag, FaultImage>
}

async function blobBytes (layout: string, digest: string): Promise<Buffer> {
  return await readFile(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)))
}

async function describe (layout: string, tag: string): Promise<FaultImage> {
  const index = parseIndex(await readFile(join(layout, 'index.json')))
  const root = index.manifests.find(d => d.annotations?.[REF_NAME_ANNOTATION] === tag)
  if (root === undefined) throw new Error(`${layout} has no ${tag}`)
  const manifest = parseManifest(await blobBytes(layout, root.digest))
  const layer = manifest.layers.at(-1)
  if (layer === undefined) throw new Error(`${tag} has no layer`)
  const blobs = await layoutImageDigests(layout, tag)
  let bytes = 0
  for (const digest of blobs) bytes += (await blobBytes(layout, digest)).byteLength
  return {
    source: `${layout}:${tag}`,
    ref: `faults/${tag}:1`,
    digest: root.digest,
    blobs,
    bytes,
    layer: { digest: layer.digest, size: layer.size }
  }
}

/** Imports images into a node's store (offline, before the node starts: it announces them at start). */
export async function importImages (dataDir: string, images: FaultImage[]): Promise<void> {
  for (const image of images) {
    const result = await runCli(['image', 'import', image.source, '--name', image.ref], { dataDir })
    assert.equal(result.code, 0, result.stderr)
  }
}

function blobPath (node: HostNode, digest: Digest): string {
  return join(node.dataDir, 'oci', 'blobs', 'sha256', digest.slice('sha256:'.length))
}

async function refs (node: HostNode): Promise<Map<string, string>> {
  const index = parseIndex(await readFile(join(node.dataDir, 'oci', 'index.json')))
  return new Map(index.manifests.map(d => [d.annotations?.[REF_NAME_ANNOTATION] ?? '', d.digest]))
}

/** `emergence store verify` on the node's data dir: exit 0, nothing corrupt, nothing missing. */
export async function assertVerified (node: HostNode): Promise<void> {
  const result = await node.cli(['store', 'verify'], { json: true })
  assert.equal(result.status, 0, `store verify on ${node.host.ns}: ${result.stdout} ${result.stderr}`)
  const report = JSON.parse(result.stdout) as { corrupt: unknown[], missing: unknown[] }
  assert.deepEqual([report.corrupt, report.missing], [[], []], `store verify on ${node.host.ns}`)
}

/** The image's ref names its digest, and every blob it reaches is in the store at its size. */
export async function assertIntact (node: HostNode, image: FaultImage): Promise<void> {
  assert.equal((await refs(node)).get(image.ref), image.digest, `${image.ref} on ${node.host.ns}`)
  for (const digest of image.blobs) await stat(blobPath(node, digest))
  assert.equal((await stat(blobPath(node, image.layer.digest))).size, image.layer.size)
}

/** Nothing of an unfinished pull is visible: no ref, no blob of the interrupted layer (the partial is hidden). */
export async function assertAbsent (node: HostNode, image: FaultImage): Promise<void> {
  assert.equal([...(await refs(node)).values()].includes(image.digest), false, `no ref for ${image.ref} on ${node.host.ns}`)
  await assert.rejects(stat(blobPath(node, image.layer.digest)), { code: 'ENOENT' })
}

/**
 * Seeds holding `images` on every host but the last, and the puller on the last one, which bootstraps from and
 * trusts every seed (its data dir under `pullerDataDir` when given); returns once the puller is connected to all.
 */
export async function startSwarm (lab: Lab, images: FaultImage[], pullerDataDir?: string): Promise<{ seeds: HostNode[], puller: HostNode }> {
  const seedHosts = lab.hosts.slice(0, -1)
  const pullerHost = lab.host(lab.hosts.length)
  await Promise.all(seedHosts.map(async host => { await importImages(join(lab.work, host.ns), images) }))
  const seeds = await Promise.all(seedHosts.map(async host => await lab.start(host)))
  const puller = await lab.start(pullerHost, {
    bootstrap: seeds,
    trusted: seeds,
    ...(pullerDataDir !== undefined ? { dataDir: join(pullerDataDir, pullerHost.ns) } : {})
  })
  await waitFor('the puller to connect to the seeds', async () => (await control<NodeStatus>(puller, '/v1/status')).peers >= seeds.length)
  return { seeds, puller }
}

/** What every case ends with: `store verify` clean on every node, and every image intact on every node. */
export async function assertAllIntact (nodes: HostNode[], images: FaultImage[]): Promise<void> {
  for (const node of nodes) await assertVerified(node)
  for (const node of nodes) for (const image of images) await assertIntact(node, image)
}

export interface PullResult { descriptor: { digest: string }, fetchedBytes: number, fromPeers: Record<string, number> }

/** A pull run to completion: exit 0 and its `--json` result. */
export function pulled (run: CliResult): PullResult {
  assert.equal(run.status, 0, run.stderr)
  return JSON.parse(run.stdout) as PullResult
}

/** A failed CLI run: one `emergence: error:` line and no stack (helpers/tools.ts), which it returns. */
export function failed (run: CliResult): string {
  return assertCliError({ code: run.status, signal: null, stdout: run.stdout, stderr: run.stderr })
}
