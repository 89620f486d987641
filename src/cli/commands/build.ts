/**
 * `emergence image build|from-nix|squash`: images built into the local store (src/build/). Registered on the
 * `image` command; the build code is loaded only when one of these runs.
 */
import { InvalidArgumentError, type Command } from 'commander'
import type { BuiltImage, ImageSettings, LayerCompression, RegistryBaseOptions } from '../../build/index.ts'
import { contextOf, type CliContext } from '../context.ts'
import { formatBytes } from '../output.ts'
import { blobsOf } from './image.ts'
import { notifyDaemon } from './node.ts'
import { ensureImage } from './run.ts'

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

function parseCompression (value: string): LayerCompression {
  if (value !== 'gzip' && value !== 'zstd') throw new InvalidArgumentError('expected gzip or zstd')
  return value
}

function parseMaxLayers (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more')
  return n
}

interface ConfigFlags {
  entrypoint?: string
  cmd?: string
  env?: string[]
  workdir?: string
  user?: string
  label?: string[]
}

async function settingsOf (flags: ConfigFlags): Promise<ImageSettings> {
  const { parseCommand, parsePairs } = await import('../../build/index.ts')
  return {
    ...(flags.entrypoint !== undefined ? { entrypoint: parseCommand(flags.entrypoint, '--entrypoint') } : {}),
    ...(flags.cmd !== undefined ? { cmd: parseCommand(flags.cmd, '--cmd') } : {}),
    ...(flags.env !== undefined ? { env: flags.env } : {}),
    ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
    ...(flags.user !== undefined ? { user: flags.user } : {}),
    ...(flags.label !== undefined ? { labels: Object.fromEntries(parsePairs(flags.label, '--label')) } : {})
  }
}

function configOptions (command: Command): Command {
  return command
    .option('--entrypoint <cmd>', 'entrypoint: a JSON array (["/bin/sh","-c"]) or one path')
    .option('--cmd <cmd>', 'default arguments: a JSON array or one string')
    .option('--env <K=V>', 'environment variable (repeatable)', collect)
    .option('--workdir <dir>', 'working directory')
    .option('--user <user>', 'user[:group] the process runs as')
    .option('--label <k=v>', 'label (repeatable)', collect)
    .option('--compression <gzip|zstd>', 'layer compression (default gzip)', parseCompression)
    .requiredOption('-t, --tag <name:tag>', 'the tag of the new image')
}

interface BaseFlags {
  from?: string
  plainHttp?: boolean
  authfile?: string
}

function baseOptions (command: Command): Command {
  return command
    .option('--plain-http', 'talk plain HTTP to the registry of a docker:// base (a registry on a test host)')
    .option('--authfile <file>', 'docker config.json with the credentials of a docker:// base\'s registry (default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json)')
}

/**
 * Makes `--from` buildable on: a stored image as is, one the store lacks pulled from peers through the running
 * node; for a `docker://` base, how to reach its registry (the build imports it when the store lacks it).
 */
async function prepareBase (ctx: CliContext, flags: BaseFlags): Promise<RegistryBaseOptions> {
  const { isRegistryUrl, SCRATCH } = await import('../../build/index.ts')
  if (flags.from === undefined || flags.from === SCRATCH) return {}
  if (!isRegistryUrl(flags.from)) {
    await ensureImage(ctx, await ctx.openStore(), flags.from)
    return {}
  }
  const { dockerCredentials, parseImageUrl } = await import('../../registry/upstream/index.ts')
  const credentials = await dockerCredentials(parseImageUrl(flags.from).registry, ...(flags.authfile !== undefined ? [flags.authfile] : []))
  return {
    ...(flags.plainHttp === true ? { plainHttp: true } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
    onProgress: p => { ctx.output.progress(`${flags.from ?? ''}: blobs ${p.blobsDone}/${p.blobsTotal}, ${formatBytes(p.bytes)} fetched`) }
  }
}

/** Announces the built image's blobs to a running node and prints the result. */
async function finish (ctx: CliContext, verb: string, image: BuiltImage): Promise<void> {
  const store = await ctx.openStore()
  await notifyDaemon(ctx, '/v1/announce', await blobsOf(store, [image.digest]))
  ctx.output.result(image, () => `${verb} ${image.ref} ${image.digest} (${image.layers.length} layers)`)
}

export function registerBuildCommands (program: Command): void {
  const image = program.commands.find(c => c.name() === 'image') ?? program.command('image')

  configOptions(baseOptions(image.command('build')
    .description('build an image: a base (or scratch) plus one layer per --add, reproducibly (see docs/building.md)')
    .option('--from <ref>', 'base image: a stored one (pulled from peers through the running node when the store lacks it), docker://host/name:tag (imported from the registry when the store lacks it), or scratch', 'scratch')
    .option('--add <src[:dest]>', 'a directory or tar file to add as one layer, at dest (default /) (repeatable)', collect)
    .option('--chown <uid:gid>', 'owner of every added entry (default 0:0)')))
    .action(async (options: ConfigFlags & BaseFlags & { from: string, add?: string[], chown?: string, compression?: LayerCompression, tag: string }, command: Command) => {
      const ctx = contextOf(command)
      const { buildImage, parseAddArgument, parseOwner } = await import('../../build/index.ts')
      const add = []
      for (const argument of options.add ?? []) add.push(await parseAddArgument(argument))
      const registry = await prepareBase(ctx, options)
      const store = await ctx.openStore()
      const built = await buildImage(store, {
        from: options.from,
        registry,
        add,
        tag: options.tag,
        settings: await settingsOf(options),
        ...(options.chown !== undefined ? { chown: parseOwner(options.chown) } : {}),
        ...(options.compression !== undefined ? { compression: options.compression } : {})
      })
      await finish(ctx, 'built', built)
    })

  configOptions(baseOptions(image.command('from-nix')
    .description('build an image from a Nix closure: one layer per store path under /nix/store, on scratch or a base (see docs/building.md)')
    .argument('<store-path>', '/nix/store/<hash>-<name>, or a link to one such as ./result')
    .option('--from <ref>', 'base image under the closure, as for image build (default: scratch)')
    .option('--max-layers <n>', 'most layers, the base\'s included; past it the least shared paths share the last layer (default 100)', parseMaxLayers)
    .option('--nix-store <dir>', 'root of a chroot Nix store to read (default: the system store)')))
    .action(async (storePath: string, options: ConfigFlags & BaseFlags & { maxLayers?: number, nixStore?: string, compression?: LayerCompression, tag: string }, command: Command) => {
      const ctx = contextOf(command)
      const { imageFromNix } = await import('../../build/index.ts')
      const { LocalNix } = await import('../../nix/local-nix.ts')
      const registry = await prepareBase(ctx, options)
      const built = await imageFromNix(await ctx.openStore(), storePath, {
        tag: options.tag,
        ...(options.from !== undefined ? { from: options.from, registry } : {}),
        settings: await settingsOf(options),
        nix: new LocalNix(options.nixStore !== undefined ? { storeRoot: options.nixStore } : {}),
        ...(options.maxLayers !== undefined ? { maxLayers: options.maxLayers } : {}),
        ...(options.compression !== undefined ? { compression: options.compression } : {})
      })
      await finish(ctx, 'built', built)
    })

  image.command('squash')
    .description('write an image as one layer (whiteouts applied), a base to build on again')
    .argument('<ref>', 'the image')
    .option('--compression <gzip|zstd>', 'layer compression (default gzip)', parseCompression)
    .requiredOption('-t, --tag <name:tag>', 'the tag of the squashed image')
    .action(async (ref: string, options: { compression?: LayerCompression, tag: string }, command: Command) => {
      const ctx = contextOf(command)
      const { squashImage } = await import('../../build/index.ts')
      const built = await squashImage(await ctx.openStore(), ref, { tag: options.tag, ...(options.compression !== undefined ? { compression: options.compression } : {}) })
      await finish(ctx, 'squashed', built)
    })
}
