/** `emergence image ...`: import, list, inspect, export, remove and pin images in the local store. */
import type { Command } from 'commander'
import type { Digest } from '../../oci/digest.ts'
import type { Store } from '../../store/store.ts'
import type { ImportedImage } from '../../image/index.ts'
import { RefNotFoundError } from '../../store/errors.ts'
import { contextOf } from '../context.ts'
import { formatBytes, table } from '../output.ts'
import { notifyDaemon } from './node.ts'

/** Every blob of the given images, for announcing them. */
export async function blobsOf (store: Store, roots: Digest[]): Promise<Digest[]> {
  const { walkImage } = await import('../../oci/walk.ts')
  const all = new Set<Digest>()
  for (const root of roots) {
    const { descriptor } = await store.resolve(root)
    for (const digest of await walkImage([descriptor], async d => await store.blobs.readBytes(d.digest))) all.add(digest)
  }
  return [...all]
}

function importedText (images: ImportedImage[]): string {
  return images.map(i => `imported ${i.ref} ${i.digest} (${i.blobs} blobs, ${i.newBlobs} new, ${formatBytes(i.bytesWritten)} written)`).join('\n')
}

export function registerImageCommands (program: Command): void {
  const image = program.command('image').description('manage images in the local store')

  image.command('import')
    .description('import images from an OCI image layout directory (<dir>[:ref]) or, with --archive, an OCI or docker-save tar')
    .argument('<source>', 'an OCI layout directory, optionally :ref; or a .tar file with --archive')
    .option('--archive', 'the source is an OCI archive or a docker save archive')
    .option('--name <name:tag>', 'store the image under this name (default: from the source)')
    .option('--ref <ref>', 'the image to take from an archive (its ref name or RepoTag)')
    .action(async (source: string, options: { archive?: boolean, name?: string, ref?: string }, command: Command) => {
      const ctx = contextOf(command)
      const { importArchive, importLayout, splitLayoutArgument } = await import('../../image/index.ts')
      const store = await ctx.openStore()
      const common = {
        ...(options.name !== undefined ? { as: options.name } : {}),
        onProgress: (e: { blob: string, bytes: number }) => { ctx.output.progress(`importing ${e.blob.slice(0, 19)} ${formatBytes(e.bytes)}`) }
      }
      let images: ImportedImage[]
      if (options.archive === true) {
        images = await importArchive(store, source, { ...common, ...(options.ref !== undefined ? { sourceRef: options.ref } : {}) })
      } else {
        const { dir, ref } = await splitLayoutArgument(source)
        const sourceRef = ref ?? options.ref
        images = await importLayout(store, dir, { ...common, ...(sourceRef !== undefined ? { sourceRef } : {}) })
      }
      ctx.output.done()
      await notifyDaemon(ctx, '/v1/announce', await blobsOf(store, images.map(i => i.digest)))
      ctx.output.result(images, () => importedText(images))
    })

  image.command('ls')
    .description('list the images in the store')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { listImages } = await import('../../image/describe.ts')
      const images = await listImages(await ctx.openStore())
      ctx.output.result(images, () => images.length === 0
        ? 'no images'
        : table(['REF', 'DIGEST', 'SIZE', 'PINNED'], images.map(i => [i.ref, i.digest.slice(0, 19), formatBytes(i.size), i.pinned ? 'yes' : ''])))
    })

  image.command('inspect')
    .description('show an image: its manifest, config and layers')
    .argument('<ref>', 'name:tag, name@digest or a digest')
    .action(async (ref: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { describeImage } = await import('../../image/describe.ts')
      const info = await describeImage(await ctx.openStore(), ref)
      ctx.output.result(info, () => JSON.stringify(info, null, 2))
    })

  image.command('export')
    .description('write an image as an OCI image layout that skopeo and umoci read')
    .argument('<ref>', 'the image')
    .argument('<dir>', 'target directory: absent, empty, or an existing OCI layout')
    .option('--as <refname>', 'the ref name in the target layout (default: name:tag)')
    .action(async (ref: string, dir: string, options: { as?: string }, command: Command) => {
      const ctx = contextOf(command)
      const { exportImage } = await import('../../image/index.ts')
      const result = await exportImage(await ctx.openStore(), ref, dir, options.as !== undefined ? { as: options.as } : {})
      ctx.output.result(result, () => `exported ${ref} to ${dir} as ${result.ref} (${result.blobs} blobs, ${formatBytes(result.bytes)} copied)`)
    })

  image.command('rm')
    .description('remove an image ref (its blobs go at the next gc unless something else uses them)')
    .argument('<ref...>', 'name:tag refs')
    .action(async (refs: string[], _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const store = await ctx.openStore()
      // Check every argument names a tag before removing any: a digest resolves to an image but is no ref.
      const removed: string[] = []
      for (const reference of refs) {
        const { ref } = await store.resolve(reference)
        if (await store.refs.get(ref) === undefined) throw new RefNotFoundError(reference)
        removed.push(ref)
      }
      for (const ref of removed) await store.refs.remove(ref)
      ctx.output.result({ removed }, () => removed.map(r => `removed ${r}`).join('\n'))
    })

  image.command('pin')
    .description('keep an image through gc even if its ref is removed')
    .argument('<ref>', 'the image')
    .action(async (reference: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const store = await ctx.openStore()
      const { ref, descriptor } = await store.resolve(reference)
      await store.pins.add(descriptor.digest, ref)
      ctx.output.result({ pinned: descriptor.digest, ref }, () => `pinned ${ref} ${descriptor.digest}`)
    })

  image.command('unpin')
    .description('remove a pin')
    .argument('<ref>', 'the image or digest')
    .action(async (reference: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const store = await ctx.openStore()
      const { descriptor } = await store.resolve(reference)
      const found = await store.pins.remove(descriptor.digest)
      ctx.output.result({ unpinned: found ? descriptor.digest : null }, () => found ? `unpinned ${descriptor.digest}` : `${reference} was not pinned`)
    })
}
