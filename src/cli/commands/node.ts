/** `emergence node start|status|stop`, `emergence peers`, `emergence pull`: the node daemon and the network. */
import type { Command } from 'commander'
import type { ConfigInput } from '../../daemon/config.ts'
import { setLogLevel, type LogLevel } from '../../util/logger.ts'
import type { NodeStatus } from '../../daemon/daemon.ts'
import { controlRequest } from '../../daemon/control-client.ts'
import { socketPath } from '../../daemon/socket-path.ts'
import { notifyReady, startDetached, waitForExit } from '../detach.ts'
import { parseSeconds, splitList } from '../options.ts'
import type { PullProgress } from '../../p2p/pulling/progress.ts'
import { contextOf, type CliContext } from '../context.ts'
import { formatBytes, table } from '../output.ts'

interface StartOptions {
  listen?: string[]
  bootstrap?: string[]
  allow?: string[]
  trusted?: string[]
  mdns?: boolean
  lanePort?: string
  config?: string
  detach?: boolean
  timeout: number
  uploadLimit?: string
  downloadLimit?: string
  nixStore?: string
  nixCache?: string
  registry?: string
  registryUpstream?: string[]
  nixTrustedKey?: string[]
  admin?: string
  gcHighWatermark?: string
  gcLowWatermark?: string
  gcMaxStoreSize?: string
  gcInterval?: string
}

function overrides (options: StartOptions, parse: { parseRate: (value: string) => number, parseLanePort: (value: string) => number | 'off' }): ConfigInput {
  const { parseRate, parseLanePort } = parse
  return {
    ...(options.listen !== undefined ? { listen: options.listen } : {}),
    ...(options.bootstrap !== undefined ? { bootstrap: options.bootstrap } : {}),
    ...(options.allow !== undefined ? { allowList: options.allow } : {}),
    ...(options.trusted !== undefined ? { trustedPeers: options.trusted } : {}),
    ...(options.mdns !== undefined ? { mdns: options.mdns } : {}),
    ...(options.lanePort !== undefined ? { lanePort: parseLanePort(options.lanePort) } : {}),
    ...(options.uploadLimit !== undefined ? { uploadLimit: parseRate(options.uploadLimit) } : {}),
    ...(options.downloadLimit !== undefined ? { downloadLimit: parseRate(options.downloadLimit) } : {}),
    ...(options.nixStore !== undefined ? { nixStore: options.nixStore } : {}),
    ...(options.nixCache !== undefined ? { nixCache: options.nixCache } : {}),
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
    ...(options.registryUpstream !== undefined ? { registryUpstreams: options.registryUpstream } : {}),
    ...(options.nixTrustedKey !== undefined ? { nixTrustedKeys: options.nixTrustedKey } : {}),
    ...(options.admin !== undefined ? { admin: options.admin } : {}),
    // Checked and parsed by loadConfig with the file's rules, so that an error names the flag.
    ...(options.gcHighWatermark !== undefined ? { gcHighWatermark: options.gcHighWatermark } : {}),
    ...(options.gcLowWatermark !== undefined ? { gcLowWatermark: options.gcLowWatermark } : {}),
    ...(options.gcMaxStoreSize !== undefined ? { gcMaxStoreSize: options.gcMaxStoreSize } : {}),
    ...(options.gcInterval !== undefined ? { gcInterval: options.gcInterval } : {})
  }
}

/** `app:1: fetching 12.0 MiB/40.0 MiB (30%) 8.0 MiB/s from 3 peer(s), blobs 2/4 eta 4s`; sizes only once known. */
export function progressLine (p: PullProgress): string {
  if (p.bytesTotal === 0) return `${p.ref}: ${p.phase}${p.blobsTotal > 0 ? `, blobs ${p.blobsDone}/${p.blobsTotal}` : ''}`
  const pct = Math.floor(100 * p.bytesDone / p.bytesTotal)
  const eta = p.rate > 0 && p.bytesTotal > p.bytesDone ? ` eta ${Math.ceil((p.bytesTotal - p.bytesDone) / p.rate)}s` : ''
  const from = p.peers > 0 ? ` from ${p.peers} peer(s)` : ''
  return `${p.ref}: ${p.phase} ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} (${pct}%) ${formatBytes(p.rate)}/s${from}, blobs ${p.blobsDone}/${p.blobsTotal}${eta}`
}

async function request (ctx: CliContext, method: string, path: string, body?: unknown): Promise<unknown> {
  return await controlRequest(socketPath(ctx.dataDir), method, path, body !== undefined ? { body } : {})
}

/** Tells a running daemon about blobs that came or went by other means (import, gc); silent when none runs. */
export async function notifyDaemon (ctx: CliContext, path: '/v1/announce' | '/v1/withdraw', digests: string[]): Promise<void> {
  if (digests.length === 0) return
  await request(ctx, 'POST', path, { digests }).catch(() => undefined)
}

export function registerNodeCommands (program: Command): void {
  const node = program.command('node').description('run and query the local Emergence node')

  node.command('start')
    .description('run the node in the foreground (libp2p peer, blob exchange, control socket in the data dir)')
    .option('--listen <multiaddrs>', 'listen addresses, comma-separated (default /ip4/0.0.0.0/tcp/7701)', splitList)
    .option('--bootstrap <multiaddrs>', 'peers to connect to, /ip4/.../tcp/.../p2p/<id>, comma-separated', splitList)
    .option('--allow <peer-ids>', 'only these peers may connect (allow-list), comma-separated', splitList)
    .option('--trusted <peer-ids>', 'peers trusted to resolve name:tag (default: the allow-listed peers; without an allow-list, nobody)', splitList)
    .option('--mdns', 'discover peers on the LAN with mDNS (default: off)')
    .option('--no-mdns', 'do not discover peers on the LAN')
    .option('--lane-port <port>', 'TCP port of the TLS data lane for piece bytes: 0 = any free port (default), or off')
    .option('--upload-limit <rate>', 'upload limit in bytes/s, e.g. 50M')
    .option('--download-limit <rate>', 'download limit in bytes/s, e.g. 50M')
    .option('--nix-store <dir>', 'root of a chroot Nix store to share from and pull into (default: the system store)')
    .option('--nix-cache <host:port>', 'Nix binary cache endpoint, or off (default 127.0.0.1:7702)')
    .option('--registry <host:port>', 'OCI registry mirror endpoint, or off (default 127.0.0.1:7703)')
    .option('--registry-upstream <registries>', 'registries the mirror and `emergence pull` pull through from when no peer has the content (docker.io, http://host:port), comma-separated', splitList)
    .option('--nix-trusted-key <keys>', 'Nix public keys (name:base64) one of which must sign every pulled path, comma-separated', splitList)
    .option('--admin <host:port>', 'metrics, /healthz and /readyz endpoint, or off (default 127.0.0.1:7704)')
    .option('--gc-high-watermark <percent>', 'automatic GC starts when the store\'s filesystem is fuller than this (default 90%)')
    .option('--gc-low-watermark <percent>', 'automatic GC frees space down to this (default 80%)')
    .option('--gc-max-store-size <size>', 'automatic GC also starts when the store\'s blobs pass this size, e.g. 50GiB (default off)')
    .option('--gc-interval <duration>', 'how often the automatic GC checks, e.g. 5m, or off (default 5m)')
    .option('--config <file>', 'YAML config file (default: <data-dir>/config.yaml)')
    .option('-d, --detach', 'run in the background (output in <data-dir>/node.log); returns once the node answers')
    .option('--timeout <seconds>', 'with --detach: how long to wait for the node to answer', parseSeconds, 60)
    .action(async (options: StartOptions, command: Command) => {
      const ctx = contextOf(command)
      if (options.detach === true) {
        const { status, log } = await startDetached(ctx.dataDir, options.timeout * 1000)
        ctx.output.result({ started: status, log }, () => `node ${status.peerId} started (pid ${status.pid}), listening on\n` +
          `${status.addresses.map(a => `  ${a}`).join('\n')}\nlog ${log}; \`emergence node stop\` stops it`)
        return
      }
      const { loadConfig, parseRate, parseLanePort } = await import('../../daemon/config.ts')
      // The global --log-level is the node's `logLevel` flag (flags > environment > file).
      const { logLevel } = command.optsWithGlobals<{ logLevel?: LogLevel }>()
      const flags = { ...overrides(options, { parseRate, parseLanePort }), ...(logLevel !== undefined ? { logLevel } : {}) }
      const config = await loadConfig(ctx.dataDir, { ...(options.config !== undefined ? { configFile: options.config } : {}), flags })
      setLogLevel(config.logLevel)
      const { Daemon } = await import('../../daemon/daemon.ts')
      const daemon = await Daemon.start(config)
      const status = await daemon.status()
      notifyReady(status)
      ctx.output.result({ started: status }, () => `node ${status.peerId} listening on\n${status.addresses.map(a => `  ${a}`).join('\n')}\ncontrol socket ${socketPath(ctx.dataDir)} (Ctrl-C stops)`)
      const stop = (): void => { void daemon.stop() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      // Ready for systemd once a SIGTERM would stop the node cleanly (examples/emergence.service, Type=notify).
      const { notifySystemdReady } = await import('../../daemon/systemd-notify.ts')
      await notifySystemdReady(`node ${status.peerId} ready`)
      await daemon.done
      // Everything is closed by now, but libp2p leaves a debounced address update (a 1 s timer) armed at stop:
      // exit without waiting for it, so that `node stop` returns promptly. Unref'd: a clean loop exits first.
      setTimeout(() => { process.exit() }, 50).unref()
    })

  node.command('status')
    .description('show the running node: peer id, addresses, peers, bytes served and received')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const status = await request(ctx, 'GET', '/v1/status') as NodeStatus
      ctx.output.result(status, () => [
        `peer id   ${status.peerId}`,
        ...status.addresses.map((a, i) => `${i === 0 ? 'addresses' : '         '} ${a}`),
        `data lane ${status.lanePort !== undefined ? `tcp port ${status.lanePort}` : 'off'}`,
        `peers     ${status.peers}`,
        `images    ${status.images}`,
        `nix paths ${status.nixPaths}`,
        `nix cache ${status.nixCache ?? 'off'}`,
        `registry  ${status.registry ?? 'off'}`,
        `admin     ${status.admin ?? 'off'}`,
        `nix key   ${status.nixPublicKey}`,
        `served    ${formatBytes(status.servedBytes)}`,
        `received  ${formatBytes(status.receivedBytes)}`,
        `uptime    ${status.uptimeSeconds}s`
      ].join('\n'))
    })

  node.command('stop')
    .description('stop the running node; returns once its process is gone')
    .option('--timeout <seconds>', 'how long to wait for the process to exit', parseSeconds, 30)
    .action(async (options: { timeout: number }, command: Command) => {
      const ctx = contextOf(command)
      const { pid } = await request(ctx, 'GET', '/v1/status') as NodeStatus
      await request(ctx, 'POST', '/v1/stop')
      await waitForExit(pid, options.timeout * 1000)
      ctx.output.result({ stopped: true, pid }, () => `node stopped (pid ${pid})`)
    })

  node.command('dial')
    .description('connect the running node to a peer')
    .argument('<multiaddr>', '/ip4/<ip>/tcp/<port>/p2p/<peer id>')
    .action(async (address: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const result = await request(ctx, 'POST', '/v1/dial', { address }) as { peerId: string }
      ctx.output.result(result, () => `connected to ${result.peerId}`)
    })

  program.command('peers')
    .description('list the peers the running node is connected to')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const peers = await request(ctx, 'GET', '/v1/peers') as Array<{ peerId: string, address: string, servedBytes: number, receivedBytes: number }>
      ctx.output.result(peers, () => peers.length === 0
        ? 'no peers'
        : table(['PEER', 'ADDRESS', 'SERVED', 'RECEIVED'], peers.map(p => [p.peerId, p.address, formatBytes(p.servedBytes), formatBytes(p.receivedBytes)])))
    })

  program.command('pull')
    .description('pull an image from the peers that have it, verifying every piece (needs a running node); a tag the store holds is only completed; a ref naming a registry of registryUpstreams pulls through from it what no peer has')
    .argument('<ref>', 'name:tag (resolved by trusted peers) or name@sha256:... / sha256:... (no trust needed)')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform index (default: this host)')
    .option('--tag <name:tag>', 'store the image under this ref')
    .option('--force', 'ask trusted peers even for a tag the store holds, and move it to what they agree on')
    .action(async (ref: string, options: { platform?: string, tag?: string, force?: boolean }, command: Command) => {
      const ctx = contextOf(command)
      const body = {
        ref,
        ...(options.platform !== undefined ? { platform: options.platform } : {}),
        ...(options.tag !== undefined ? { tagAs: options.tag } : {}),
        ...(options.force === true ? { force: true } : {})
      }
      const result = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/pull', {
        body,
        timeoutMs: 0,
        onEvent: event => { ctx.output.progress(progressLine(event as PullProgress), event) }
      }) as { ref: string, descriptor: { digest: string }, fetchedBytes: number, fromPeers: Record<string, number>, fromUpstream?: Record<string, number> }
      const upstream = Object.entries(result.fromUpstream ?? {}).map(([registry, bytes]) => `, ${formatBytes(bytes)} from ${registry}`).join('')
      ctx.output.done()
      ctx.output.result(result, () => `pulled ${result.ref} ${result.descriptor.digest}: ${formatBytes(result.fetchedBytes)} from ${Object.keys(result.fromPeers).length} peer(s)${upstream}`)
    })
}
