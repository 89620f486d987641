/**
 * `docker save` archives in the legacy form Docker wrote before version 25: `manifest.json` (Config, RepoTags,
 * Layers), the config as `<hex>.json`, each layer as `<id>/layer.tar` beside `<id>/VERSION` and `<id>/json`, a
 * `repositories` file, and a repeated layer stored once with its second entry a symlink to the first.
 */
import { createHash } from 'node:crypto'
import { configFor, layerTar } from './layout.ts'
import { sha256 } from './bytes.ts'
import type { TarEntry } from './tar.ts'

export interface DockerSaveImage {
  /** Layers, base first; a layer equal to an earlier one becomes a symlink to it. */
  layers: Array<Record<string, string>>
  repoTags: string[] | null
  /** Store repeated layers as hard links instead of symlinks. */
  hardLinks?: boolean
}

export interface DockerSaveArchive {
  entries: TarEntry[]
  /** Per image: the uncompressed layer tars (what the imported manifest's layers must be) and the config. */
  images: Array<{ layers: Buffer[], config: Buffer }>
}

const hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex')

export async function dockerSaveArchive (images: DockerSaveImage[]): Promise<DockerSaveArchive> {
  const entries: TarEntry[] = []
  const manifest: Array<{ Config: string, RepoTags: string[] | null, Layers: string[] }> = []
  const built: DockerSaveArchive['images'] = []
  const written = new Map<string, string>()
  for (const image of images) {
    const tars = await Promise.all(image.layers.map(async files => await layerTar(files)))
    const config = configFor(tars, { created: '2024-01-01T00:00:00Z' })
    const configName = `${hex(config)}.json`
    if (!entries.some(e => e.name === configName)) entries.push({ name: configName, data: config })
    const layerNames: string[] = []
    let parent = ''
    for (const [position, tar] of tars.entries()) {
      // Legacy layer ids chain the parent id, like Docker's v1 ids; the same content at two positions has two ids.
      const previous = parent
      const id = hex(`${previous}|${sha256(tar)}|${position}`)
      parent = id
      const name = `${id}/layer.tar`
      layerNames.push(name)
      // Images that share a base share its layer ids: each id is saved once.
      if (entries.some(e => e.name === name)) continue
      entries.push({ name: `${id}/`, type: 'directory' })
      entries.push({ name: `${id}/VERSION`, data: '1.0' })
      entries.push({ name: `${id}/json`, data: JSON.stringify({ id, ...(previous !== '' ? { parent: previous } : {}) }) })
      const first = written.get(sha256(tar))
      if (first === undefined) {
        entries.push({ name, data: tar })
        written.set(sha256(tar), name)
      } else if (image.hardLinks === true) {
        entries.push({ name, type: 'link', linkname: first })
      } else {
        entries.push({ name, type: 'symlink', linkname: `../${first}` })
      }
    }
    manifest.push({ Config: configName, RepoTags: image.repoTags, Layers: layerNames })
    built.push({ layers: tars, config })
  }
  const repositories: Record<string, Record<string, string>> = {}
  for (const [i, image] of images.entries()) {
    for (const tag of image.repoTags ?? []) {
      const colon = tag.lastIndexOf(':')
      repositories[tag.slice(0, colon)] = { ...(repositories[tag.slice(0, colon)] ?? {}), [tag.slice(colon + 1)]: manifest[i]?.Layers.at(-1)?.split('/')[0] ?? '' }
    }
  }
  entries.push({ name: 'repositories', data: JSON.stringify(repositories) })
  entries.push({ name: 'manifest.json', data: JSON.stringify(manifest) })
  return { entries, images: built }
}
