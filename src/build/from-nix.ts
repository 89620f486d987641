/**
 * `image from-nix`: an image whose layers hold a Nix closure under /nix/store, one layer per store path (grouped
 * past `maxLayers` by nix-layers.ts), on top of nothing or of a base image (`from`, whose layers are referenced
 * and whose config takes the settings, as in `image build`). Each layer holds `nix/`, `nix/store/` and its paths' files only, with the
 * build's owner and mtime and the files' modes, so it depends on nothing but those paths: two images that share
 * a store path share that layer's blob. The image needs no host store: everything it runs is in its layers.
 */
import { lstat, readdir, realpath } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { basename } from 'node:path'
import { LocalNix } from '../nix/local-nix.ts'
import { STORE_DIR, parseStorePath, type StorePath } from '../nix/store-path.ts'
import type { Store } from '../store/store.ts'
import { ImportTransaction } from '../image/transaction.ts'
import { isErrno } from '../util/errors.ts'
import { Semaphore } from '../util/semaphore.ts'
import { packPath } from './dir-source.ts'
import { NoEntrypointError } from './errors.ts'
import { commitImage, buildRef, type BuiltImage, type NewLayer } from './image-writer.ts'
import { DEFAULT_COMPRESSION, writeLayer, type LayerCompression } from './layer-writer.ts'
import { resolveBase } from './build.ts'
import { DEFAULT_MAX_LAYERS, groupLayers } from './nix-layers.ts'
import { putDirs } from './pack-entries.ts'
import type { RegistryBaseOptions } from './registry-base.ts'
import { ROOT_OWNER, sourceDateEpoch, type ImageSettings } from './settings.ts'

/** Layers written at once, at most (and at most the machine's cores). */
export const MAX_PARALLEL_LAYERS = 4

export interface FromNixOptions {
  /** `name:tag` */
  tag: string
  /** A base image under the closure's layers (as `BuildOptions.from`); its blobs are referenced. @default scratch */
  from?: string
  /** How to reach the registry of a `docker://` base. */
  registry?: RegistryBaseOptions
  /** Most layers of the image, the base's included; the closure gets at least one. @default DEFAULT_MAX_LAYERS */
  maxLayers?: number
  /** Entrypoint and the rest; without entrypoint or cmd, the entrypoint is guessed (guessEntrypoint). */
  settings?: ImageSettings
  compression?: LayerCompression
  epoch?: number
  /** The Nix store to read (a chroot store with `storeRoot`). @default the system store */
  nix?: LocalNix
}

/**
 * The store path itself when it is an executable file, else `<path>/bin/<x>` when `bin/` holds exactly one
 * entry; NoEntrypointError otherwise.
 */
export async function guessEntrypoint (nix: LocalNix, path: StorePath): Promise<string[]> {
  const real = nix.realPath(path)
  const info = await lstat(real)
  if (info.isFile() && (info.mode & 0o111) !== 0) return [path]
  try {
    const bins = await readdir(`${real}/bin`)
    if (bins.length === 1) return [`${path}/bin/${bins[0] as string}`]
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err
  }
  throw new NoEntrypointError(path)
}

/**
 * The store path `argument` names: `/nix/store/<h>-x` (a sub-path names its store path), or a link to one such
 * as nix-build's `./result`.
 */
export async function storePathOf (nix: LocalNix, argument: string): Promise<StorePath> {
  let path = argument
  if (!argument.startsWith(STORE_DIR + '/')) {
    const real = await realpath(argument).catch(() => argument)
    path = real.startsWith(nix.realStoreDir + '/') ? STORE_DIR + real.slice(nix.realStoreDir.length) : real
  }
  const top = path.slice(STORE_DIR.length + 1).split('/')[0] ?? ''
  return parseStorePath(`${STORE_DIR}/${top}`).path
}

export async function imageFromNix (store: Store, storePath: string, options: FromNixOptions): Promise<BuiltImage> {
  const ref = buildRef(options.tag)
  const nix = options.nix ?? new LocalNix()
  const path = await storePathOf(nix, storePath)
  const closure = await nix.closure([path])
  const settings = { ...options.settings }
  if (settings.entrypoint === undefined && settings.cmd === undefined) settings.entrypoint = await guessEntrypoint(nix, path)
  const base = await resolveBase(store, options.from, options.registry)
  // The base's layers count against the limit: it bounds the image's layers (docs/building.md), not the closure's.
  const groups = groupLayers(closure, Math.max(1, (options.maxLayers ?? DEFAULT_MAX_LAYERS) - (base?.manifest.layers.length ?? 0)))
  const epoch = options.epoch ?? sourceDateEpoch()
  const stamp = { owner: ROOT_OWNER, mtime: new Date(epoch * 1000) }
  const tx = await ImportTransaction.begin(store)
  // Layers are independent: compress several at once (node:zlib runs on the thread pool), keep their order.
  const slots = new Semaphore(Math.min(MAX_PARALLEL_LAYERS, availableParallelism()))
  return await tx.run(async () => {
    const written = await Promise.allSettled(groups.map(async group => await slots.run(async (): Promise<NewLayer> => {
      const layer = await writeLayer(store, tx, options.compression ?? DEFAULT_COMPRESSION, async pack => {
        await putDirs(pack, 'nix/store', stamp)
        for (const p of group) await packPath(pack, nix.realPath(p), p.slice(1), stamp, { hardLinks: false })
      })
      const what = group.length === 1 ? basename(group[0] as string) : `${group.length} store paths`
      return { ...layer, createdBy: `emergence image from-nix: ${what}` }
    })))
    // Every write has ended before a failure rolls the transaction back.
    const failed = written.find(r => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const layers = written.map(r => (r as PromiseFulfilledResult<NewLayer>).value)
    return await commitImage(store, tx, { ref, ...(base !== undefined ? { base } : {}), layers, settings, epoch })
  })
}
