/**
 * Images built by umoci, the reference implementation of the image layout: a layout with two tagged images
 * that share their first two layers.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { walkImage } from '../../src/oci/walk.ts'
import { parseIndex } from '../../src/oci/types.ts'
import { REF_NAME_ANNOTATION } from '../../src/oci/reference.ts'
import type { Digest } from '../../src/oci/digest.ts'
import { tool } from './tools.ts'

export interface UmociFixture {
  /** The layout directory. */
  layout: string
  /** `base`: two layers. `app`: base's two layers plus a third, and another config. */
  tags: { base: string, app: string }
}

/** Builds the fixture layout at `<dir>/layout` (files staged under `<dir>/src`). */
export async function buildUmociFixture (dir: string): Promise<UmociFixture> {
  const layout = join(dir, 'layout')
  const src = join(dir, 'src')
  await mkdir(join(src, 'etc'), { recursive: true })
  await writeFile(join(src, 'hello.txt'), 'hello from the first layer\n')
  await writeFile(join(src, 'etc', 'motd'), 'second layer\n')
  await writeFile(join(src, 'app.txt'), 'third layer, only in app\n')
  await tool('umoci', ['init', '--layout', layout])
  await tool('umoci', ['new', '--image', `${layout}:base`])
  await tool('umoci', ['insert', '--image', `${layout}:base`, join(src, 'hello.txt'), '/hello.txt'])
  await tool('umoci', ['insert', '--image', `${layout}:base`, join(src, 'etc'), '/etc'])
  await tool('umoci', ['config', '--image', `${layout}:base`, '--config.cmd', '/bin/sh', '--config.env', 'GREETING=hello'])
  await tool('umoci', ['insert', '--image', `${layout}:base`, '--tag', 'app', join(src, 'app.txt'), '/app.txt'])
  await tool('umoci', ['config', '--image', `${layout}:app`, '--config.workingdir', '/srv'])
  // Drop the intermediate manifests and configs each step left behind.
  await tool('umoci', ['gc', '--layout', layout])
  return { layout, tags: { base: 'base', app: 'app' } }
}

/** Digests of every blob a tagged image of a layout reaches (read straight from the layout's files). */
export async function layoutImageDigests (layout: string, tag: string): Promise<Set<Digest>> {
  const index = parseIndex(await readFile(join(layout, 'index.json')))
  const root = index.manifests.find(d => d.annotations?.[REF_NAME_ANNOTATION] === tag)
  if (root === undefined) throw new Error(`${layout} has no ${tag}`)
  return await walkImage([root], async d => await readFile(join(layout, 'blobs', 'sha256', d.digest.slice('sha256:'.length))))
}

/** Names of the files in `<layout>/blobs/sha256`. */
export async function blobFiles (layout: string): Promise<string[]> {
  return (await readdir(join(layout, 'blobs', 'sha256'))).sort()
}
