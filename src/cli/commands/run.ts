/**
 * `emergence run | ps | stop | rm | logs`: automata on the local runc. `run` takes an image ref or a Nix store path;
 * an image the store lacks is pulled from peers first through the running node (with progress).
 */
import { Option, type Command } from 'commander'
import { socketPath } from '../../daemon/socket-path.ts'
import { controlRequest } from '../../daemon/control-client.ts'
import { DaemonNotRunningError } from '../../daemon/errors.ts'
import { isStorePath } from '../../nix/store-path.ts'
import type { PullProgress } from '../../p2p/pulling/progress.ts'
import { RefNotFoundError } from '../../store/errors.ts'
import type { Store } from '../../store/store.ts'
import { contextOf, type CliContext } from '../context.ts'
import { table } from '../output.ts'
import { parseSeconds } from '../options.ts'
import { EmergenceError } from '../../util/errors.ts'
import { progressLine } from './node.ts'
import { pullLine } from './nix.ts'
import { registerLogsCommand } from './logs.ts'
import type { NixPullProgress } from '../../nix/pull-progress.ts'

interface RunOptions {
  detach?: boolean
  rm?: boolean
  name?: string
  env?: string[]
  entrypoint?: string
  workdir?: string
  user?: string
  network?: 'none' | 'host'
  rootfs?: 'auto' | 'overlay' | 'copy'
}

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** Makes sure the image is in the store: pulls it through the running node when it is not. */
export async function ensureImage (ctx: CliContext, store: Store, ref: string): Promise<void> {
  try {
    const { descriptor } = await store.resolve(ref)
    // A run counts as a use for the automatic GC (least recently used images go first); a pull records its own.
    const { recordUse } = await import('../../gc/usage.ts')
    await recordUse(store, [descriptor.digest])
    return
  } catch (err) {
    if (!(err instanceof RefNotFoundError)) throw err
  }
  try {
    await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/pull', {
      body: { ref },
      timeoutMs: 0,
      onEvent: event => { ctx.output.progress(progressLine(event as PullProgress), event) }
    })
    ctx.output.done()
  } catch (err) {
    if (err instanceof DaemonNotRunningError) throw new EmergenceError(`no image ${ref} in the store, and no node is running to pull it from peers`, { code: 'MANIFEST_UNKNOWN' })
    throw err
  }
}

/** The store path a target names: `/nix/store/<hash>-<name>` itself or a file inside it (its program). */
export function storePathOf (target: string): string | undefined {
  if (!target.startsWith('/nix/store/')) return undefined
  const root = target.split('/').slice(0, 4).join('/')
  return isStorePath(root) ? root : undefined
}

/**
 * The node's Nix store, where `nix pull` puts paths: the running node's (it may have been started with
 * `--nix-store`), else the configured `nixStore`; undefined for the system store.
 */
export async function nodeNixStore (ctx: CliContext): Promise<string | undefined> {
  try {
    const status = await controlRequest(socketPath(ctx.dataDir), 'GET', '/v1/nix/status') as { store: string }
    return status.store === '/nix/store' ? undefined : status.store
  } catch (err) {
    if (!(err instanceof DaemonNotRunningError)) throw err
    const { loadConfig } = await import('../../daemon/config.ts')
    return (await loadConfig(ctx.dataDir)).nixStore
  }
}

/** Makes sure a store path is in the Nix store: pulls its closure through the running node when it is not. */
export async function ensureClosure (ctx: CliContext, path: string): Promise<void> {
  try {
    await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/nix/pull', {
      body: { path },
      timeoutMs: 0,
      onEvent: event => { ctx.output.progress(pullLine(event as NixPullProgress), event) }
    })
    ctx.output.done()
  } catch (err) {
    if (err instanceof DaemonNotRunningError) throw new EmergenceError(`${path} is not in the Nix store, and no node is running to pull it from peers`, { code: 'PATH_UNKNOWN' })
    throw err
  }
}

export function registerRunCommands (program: Command): void {
  registerLogsCommand(program)
  program.command('run')
    .description('run an image or a Nix closure with runc (missing images are pulled from peers first)')
    .argument('<target>', 'an image ref (name:tag, name@digest) or a /nix/store path')
    .argument('[args...]', 'command and arguments (after --); default: the image\'s Entrypoint and Cmd')
    .option('-d, --detach', 'run in the background; output goes to a log file under the data dir')
    .option('--rm', 'remove the container when it exits')
    .option('--name <id>', 'container id (default: generated)')
    .option('-e, --env <NAME=value>', 'set an environment variable (repeatable)', collect)
    .option('--entrypoint <path>', 'replace the image\'s entrypoint')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'user[:group] or uid[:gid]')
    .option('--network <mode>', 'none (own empty network namespace, default) or host')
    .addOption(new Option('--rootfs <mode>', 'image rootfs: an overlay on the layer cache, or a copy (auto: overlay when it works)').choices(['auto', 'overlay', 'copy']))
    .action(async (target: string, args: string[], options: RunOptions, command: Command) => {
      const ctx = contextOf(command)
      const common = {
        dataDir: ctx.dataDir,
        io: { stdin: 'inherit' as const },
        ...(options.detach === true ? { detach: true } : {}),
        ...(options.rm === true ? { remove: true } : {}),
        ...(options.name !== undefined ? { id: options.name } : {}),
        ...(options.env !== undefined ? { env: options.env } : {}),
        ...(options.user !== undefined ? { user: options.user } : {}),
        ...(options.network !== undefined ? { network: options.network } : {})
      }
      const { runClosure, runImage } = await import('../../runner/index.ts')
      const { createLogger } = await import('../../util/logger.ts')
      let result
      const storePath = storePathOf(target)
      if (storePath !== undefined) {
        const { LocalNix } = await import('../../nix/local-nix.ts')
        const nixStore = await nodeNixStore(ctx)
        const nix = new LocalNix(nixStore !== undefined ? { storeRoot: nixStore } : {})
        if (!await nix.isValid(storePath)) await ensureClosure(ctx, storePath)
        const closure = (await nix.closure([storePath])).map(info => info.path)
        const argv = args.length > 0 ? args : [target]
        result = await runClosure({
          ...common, closure, args: argv, hostStoreDir: nix.realStoreDir, ...(options.workdir !== undefined ? { cwd: options.workdir } : {})
        })
      } else {
        const store = await ctx.openStore()
        await ensureImage(ctx, store, target)
        result = await runImage({
          ...common,
          store,
          logger: createLogger('runner'),
          ...(options.rootfs !== undefined ? { rootfs: options.rootfs } : {}),
          image: target,
          ...(args.length > 0 ? { command: args } : {}),
          ...(options.entrypoint !== undefined ? { entrypoint: [options.entrypoint] } : {}),
          ...(options.workdir !== undefined ? { workingDir: options.workdir } : {})
        })
      }
      if (options.detach === true) {
        ctx.output.result({ id: result.id }, () => result.id)
        return
      }
      process.exitCode = result.exitCode ?? 0
    })

  program.command('ps')
    .description('list containers started by this node')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { listContainers } = await import('../../runner/index.ts')
      const containers = await listContainers({ dataDir: ctx.dataDir })
      ctx.output.result(containers, () => containers.length === 0
        ? 'no containers'
        : table(['ID', 'TARGET', 'STATUS', 'PID', 'EXIT'], containers.map(c => [
          c.id, c.image, c.status, c.pid !== undefined ? String(c.pid) : '', c.exitCode !== undefined ? String(c.exitCode) : ''
        ])))
    })

  program.command('stop')
    .description('stop a running container (SIGTERM, then SIGKILL)')
    .argument('<id>', 'container id')
    .option('--timeout <seconds>', 'seconds before SIGKILL', parseSeconds, 10)
    .action(async (id: string, options: { timeout: number }, command: Command) => {
      const ctx = contextOf(command)
      const { stopContainer } = await import('../../runner/index.ts')
      const stopped = await stopContainer({ dataDir: ctx.dataDir, id, timeoutMs: options.timeout * 1000 })
      ctx.output.result({ id, stopped }, () => stopped ? `stopped ${id}` : `${id} was not running`)
    })

  program.command('rm')
    .description('remove a container and its bundle')
    .argument('<id...>', 'container ids')
    .option('-f, --force', 'kill it first if it is running')
    .action(async (ids: string[], options: { force?: boolean }, command: Command) => {
      const ctx = contextOf(command)
      const { removeContainer } = await import('../../runner/index.ts')
      for (const id of ids) await removeContainer({ dataDir: ctx.dataDir, id, force: options.force === true })
      ctx.output.result({ removed: ids }, () => ids.map(id => `removed ${id}`).join('\n'))
    })
}
