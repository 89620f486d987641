/**
 * `image build`: a base image (or scratch) plus one layer per added directory or tar, and config settings.
 * Everything that can be checked is checked before the first write (the base, every `--add` source); the
 * layers, config and manifest are then written in one transaction and the tag set last.
 */
import { readFile, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { cleanEntryName } from '../runner/secure-join.ts'
import { loadImage } from '../runner/image.ts'
import type { Store } from '../store/store.ts'
import { ImportTransaction } from '../image/transaction.ts'
import { EmergenceError, describeError, isErrno } from '../util/errors.ts'
import { packDirectory } from './dir-source.ts'
import { BuildSourceError } from './errors.ts'
import { commitImage, buildRef, type BaseImage, type BuiltImage, type NewLayer } from './image-writer.ts'
import { DEFAULT_COMPRESSION, writeLayer, type LayerCompression } from './layer-writer.ts'
import { putDirs } from './pack-entries.ts'
import { isRegistryUrl, registryBase, type RegistryBaseOptions } from './registry-base.ts'
import { ROOT_OWNER, sourceDateEpoch, type ImageSettings, type Owner } from './settings.ts'
import { packTar } from './tar-source.ts'

/** The base that means "no base". */
export const SCRATCH = 'scratch'

export interface AddSource {
  /** A directory or a tar file on this machine (the argument itself is followed if it is a symlink). */
  source: string
  /** Where its entries go in the rootfs, relative and cleaned (`''` = the root). */
  dest: string
}

export interface BuildOptions {
  /** A store ref or digest, a registry URL (`docker://host/name:tag`, imported when missing), or `scratch` (default). */
  from?: string
  /** How to reach the registry of a `docker://` base. */
  registry?: RegistryBaseOptions
  add: AddSource[]
  /** `name:tag` */
  tag: string
  settings?: ImageSettings
  /** Owner of every added entry. @default 0:0 */
  chown?: Owner
  /** @default 'gzip' */
  compression?: LayerCompression
  /** Seconds for every mtime and `created`. @default sourceDateEpoch() */
  epoch?: number
}

/** Splits `<path>[:<dest>]`: a path that exists as given wins, else the part after the last colon is the dest. */
export async function parseAddArgument (argument: string): Promise<AddSource> {
  const exists = async (p: string): Promise<boolean> => await stat(p).then(() => true, () => false)
  if (await exists(argument)) return { source: argument, dest: '' }
  const colon = argument.lastIndexOf(':')
  if (colon > 0 && await exists(argument.slice(0, colon))) return { source: argument.slice(0, colon), dest: cleanEntryName(argument.slice(colon + 1)) }
  throw new BuildSourceError(`--add ${argument}: no such file or directory`)
}

async function sourceKind (add: AddSource): Promise<'directory' | 'tar'> {
  let info: Stats
  try {
    info = await stat(add.source)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new BuildSourceError(`--add ${add.source}: no such file or directory`, err)
    throw new BuildSourceError(`--add ${add.source}: ${err instanceof Error ? err.message : String(err)}`, err)
  }
  if (info.isDirectory()) return 'directory'
  if (info.isFile()) return 'tar'
  throw new BuildSourceError(`--add ${add.source} is neither a directory nor a tar file`)
}

/** The base as the build uses it: the manifest for this host's platform, and the config JSON as stored. */
export async function loadBase (store: Store, from: string): Promise<BaseImage> {
  const image = await loadImage(store, from)
  const config = JSON.parse((await readFile(store.paths.blob(image.manifest.config.digest))).toString('utf8')) as Record<string, unknown>
  return { manifest: image.manifest, config }
}

/**
 * The base `from` names: none for `scratch` (or nothing), a stored image, or a registry image imported into the
 * store first when it lacks it (registry-base.ts).
 */
export async function resolveBase (store: Store, from: string | undefined, registry: RegistryBaseOptions = {}): Promise<BaseImage | undefined> {
  if (from === undefined || from === SCRATCH) return undefined
  return await loadBase(store, isRegistryUrl(from) ? await registryBase(store, from, registry) : from)
}

export async function buildImage (store: Store, options: BuildOptions): Promise<BuiltImage> {
  const ref = buildRef(options.tag)
  // The sources are checked before a registry base is imported: bad input writes nothing.
  const kinds = await Promise.all(options.add.map(sourceKind))
  const base = await resolveBase(store, options.from, options.registry)
  const epoch = options.epoch ?? sourceDateEpoch()
  const stamp = { owner: options.chown ?? ROOT_OWNER, mtime: new Date(epoch * 1000) }
  const tx = await ImportTransaction.begin(store)
  return await tx.run(async () => {
    const layers: NewLayer[] = []
    for (const [i, add] of options.add.entries()) {
      const kind = kinds[i] as 'directory' | 'tar'
      const layer = await writeLayer(store, tx, options.compression ?? DEFAULT_COMPRESSION, async pack => {
        await putDirs(pack, add.dest, stamp)
        try {
          if (kind === 'directory') await packDirectory(pack, add.source, add.dest, stamp)
          else await packTar(pack, add.source, add.dest, stamp)
        } catch (err) {
          // A file that cannot be read (permissions, a file changed while read) is the source's fault.
          if (err instanceof EmergenceError) throw err
          throw new BuildSourceError(`--add ${add.source}: ${describeError(err)}`, err)
        }
      })
      layers.push({ ...layer, createdBy: `emergence image build: add a ${kind} to /${add.dest}` })
    }
    return await commitImage(store, tx, { ref, ...(base !== undefined ? { base } : {}), layers, settings: options.settings ?? {}, epoch })
  })
}
