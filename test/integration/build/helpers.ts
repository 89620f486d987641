/** Shared by the build tests: the CLI on a data dir, a busybox base in it, and reading what a build stored. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { buildBusyboxImage } from '../../../scripts/lib/busybox-image.ts'
import { Store } from '../../../src/store/store.ts'
import { storeRoot } from '../../../src/store/paths.ts'
import { loadImage, type ResolvedImage } from '../../../src/runner/image.ts'
import { unpackRootfs } from '../../../src/runner/unpack.ts'
import { runCli, type RunResult } from '../../helpers/tools.ts'
import { snapshotTree, type NodeInfo } from '../runner/helpers/tree.ts'

export const BASE_REF = 'e2e/busybox:1'

/** `emergence --data-dir <dataDir> <args>`, which must succeed. */
export async function cliOk (dataDir: string, args: string[], env?: Record<string, string>): Promise<RunResult> {
  const result = await runCli(args, { dataDir, ...(env !== undefined ? { env } : {}) })
  assert.equal(result.code, 0, `emergence ${args.join(' ')}: ${result.stderr}`)
  return result
}

/** The manifest digest a build printed (`built <ref> <digest> ...`). */
export function builtDigest (result: RunResult): string {
  const match = /^(?:built|squashed) \S+ (sha256:[a-f0-9]{64})/m.exec(result.stdout)
  assert.ok(match !== null, `no digest in ${result.stdout}`)
  return match[1] as string
}

/** A busybox layout built by umoci under `work`; returns the layout. */
export async function busyboxLayout (work: string): Promise<string> {
  return await buildBusyboxImage(work, { script: 'echo base' })
}

/** Imports the busybox `layout` into `dataDir` as BASE_REF. */
export async function importBusybox (layout: string, dataDir: string): Promise<void> {
  await cliOk(dataDir, ['image', 'import', `${layout}:1`, '--name', BASE_REF])
}

export async function openImage (dataDir: string, ref: string): Promise<{ store: Store, image: ResolvedImage }> {
  const store = await Store.open(storeRoot(dataDir))
  return { store, image: await loadImage(store, ref) }
}

/** Our unpacker's rootfs of `ref` at `target`, as a tree snapshot. */
export async function unpackedTree (dataDir: string, ref: string, target: string): Promise<Map<string, NodeInfo>> {
  const { store, image } = await openImage(dataDir, ref)
  await unpackRootfs(store, image, target)
  return await snapshotTree(target)
}

export { join }
