/**
 * `emergence containerd configure`: point containerd at the node's registry mirror; `emergence image pull
 * docker://...`: import an image from an upstream registry (docs/registry.md).
 */
import type { Command } from 'commander'
import { contextOf, type CliContext } from '../context.ts'
import { formatBytes } from '../output.ts'
import { notifyDaemon } from './node.ts'

interface PullOptions {
  tag?: string
  platform?: string
  username?: string
  password?: string
  passwordStdin?: boolean
  authfile?: string
  plainHttp?: boolean
  force?: boolean
}

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/** Credentials from the flags, else from the docker config file; none when neither has any. */
async function credentialsFor (registry: string, options: PullOptions): Promise<{ username: string, password: string } | undefined> {
  const { dockerCredentials } = await import('../../registry/upstream/credentials.ts')
  if (options.username !== undefined) {
    const password = options.passwordStdin === true ? await readStdin() : options.password ?? process.env.EMERGENCE_REGISTRY_PASSWORD ?? ''
    return { username: options.username, password }
  }
  return await dockerCredentials(registry, ...(options.authfile !== undefined ? [options.authfile] : []))
}

async function pullImage (ctx: CliContext, url: string, options: PullOptions): Promise<void> {
  const { parseImageUrl, pullFromRegistry } = await import('../../registry/upstream/index.ts')
  const { parsePlatform } = await import('../../oci/platform.ts')
  const image = parseImageUrl(url)
  const credentials = await credentialsFor(image.registry, options)
  const result = await pullFromRegistry(await ctx.openStore(), url, {
    ...(options.tag !== undefined ? { tagAs: options.tag } : {}),
    ...(options.platform !== undefined ? { platform: parsePlatform(options.platform) } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
    ...(options.plainHttp === true ? { plainHttp: true } : {}),
    ...(options.force === true ? { force: true } : {}),
    onProgress: p => { ctx.output.progress(`${image.storeRef}: blobs ${p.blobsDone}/${p.blobsTotal}, ${formatBytes(p.bytes)} fetched`) }
  })
  ctx.output.done()
  await notifyDaemon(ctx, '/v1/announce', result.blobs)
  ctx.output.result(result, () => `pulled ${result.ref} ${result.descriptor.digest} from ${image.registry}: ${formatBytes(result.fetchedBytes)} fetched`)
}

/** Adds `pull` to the `image` command group (registered before this one in main.ts). */
function registerImagePull (program: Command): void {
  const image = program.commands.find(c => c.name() === 'image') ?? program.command('image').description('manage images in the local store')
  image.command('pull')
    .description('import an image from a registry: docker://[host[:port]/]name[:tag|@digest] (stored as host/name:tag)')
    .argument('<image>', 'docker://host/name:tag')
    .option('--tag <name:tag>', 'store the image under this ref')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform index (default: this host)')
    .option('--username <user>', 'registry user (password from --password, --password-stdin or $EMERGENCE_REGISTRY_PASSWORD)')
    .option('--password <password>', 'registry password (visible to other users in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--authfile <file>', 'docker config.json with credentials (default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json)')
    .option('--plain-http', 'talk plain HTTP to the registry (a registry on a test host)')
    .option('--force', 'move the ref if the store has it pointing at other content')
    .action(async (url: string, options: PullOptions, command: Command) => {
      await pullImage(contextOf(command), url, options)
    })
}

interface ConfigureOptions {
  registryHost: string
  configPath: string
  mirror: string
  server?: string
}

export function registerRegistryCommands (program: Command): void {
  registerImagePull(program)
  const containerd = program.command('containerd').description('configure containerd to pull through the node\'s registry mirror')

  containerd.command('configure')
    .description('write <config-path>/<registry-host>/hosts.toml: the mirror first, the registry as fallback (an existing file is kept as hosts.toml.bak)')
    .option('--registry-host <host>', 'the registry whose pulls go through the mirror', 'docker.io')
    .option('--config-path <dir>', 'containerd\'s registry config_path', '/etc/containerd/certs.d')
    .option('--mirror <url>', 'the node\'s registry mirror', 'http://127.0.0.1:7703')
    .option('--server <url>', 'the fallback URL (default: https://<registry-host>; registry-1.docker.io for docker.io)')
    .action(async (options: ConfigureOptions, command: Command) => {
      const ctx = contextOf(command)
      const { configureContainerd } = await import('../../registry/containerd.ts')
      const result = await configureContainerd({
        upstream: options.registryHost,
        configPath: options.configPath,
        mirror: options.mirror,
        ...(options.server !== undefined ? { server: options.server } : {})
      })
      ctx.output.result(result, () => `wrote ${result.path}${result.backup !== undefined ? ` (the previous file is ${result.backup})` : ''}\n` +
        'containerd reads it when its CRI config has config_path set to the directory above (ctr: --hosts-dir)')
    })
}
