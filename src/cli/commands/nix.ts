/**
 * `emergence nix share|pull|ls|key`: Nix closures over the network (docs/nix.md). `share` runs in the node when
 * one runs (it announces at once), else here on the store (the node announces at its next start); `pull` needs
 * the running node.
 */
import { readlink, realpath } from 'node:fs/promises'
import type { Command } from 'commander'
import { join } from 'node:path'
import { controlRequest } from '../../daemon/control-client.ts'
import { socketPath } from '../../daemon/socket-path.ts'
import { DaemonNotRunningError } from '../../daemon/errors.ts'
import { StorePathError } from '../../nix/errors.ts'
import type { NixPullProgress, NixPullResult, ShareProgress, ShareResult } from '../../nix/index.ts'
import type { SecretKey } from '../../nix/signing.ts'
import { isStorePath } from '../../nix/store-path.ts'
import { contextOf, type CliContext } from '../context.ts'
import { formatBytes, table } from '../output.ts'
import { splitList } from '../options.ts'

/** `/nix/store/<hash>-<name>[/sub/path]` or a symlink to one (`./result`) -> the store path. */
async function storePathArg (arg: string): Promise<string> {
  const top = (path: string): string | undefined => {
    const candidate = path.split('/').slice(0, 4).join('/')
    return isStorePath(candidate) ? candidate : undefined
  }
  const direct = top(arg)
  if (direct !== undefined) return direct
  // A chroot store's paths do not exist on this filesystem, so a link into one is read, not resolved.
  const resolved = await realpath(arg).then(top, () => undefined) ?? await readlink(arg).then(top, () => undefined)
  if (resolved === undefined) throw new StorePathError(arg, 'neither a store path nor a link to one')
  return resolved
}

function shareLine (p: ShareProgress): string {
  return `share: ${p.phase} paths ${p.pathsDone}/${p.pathsTotal} ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}`
}

/** `/nix/store/...-hello: fetching paths 3/10 4.0 MiB/9.0 MiB (44%) 2.0 MiB/s from 2 peer(s)`; sizes once known. */
export function pullLine (p: NixPullProgress): string {
  if (p.bytesTotal === 0) return `${p.root}: ${p.phase}${p.pathsTotal > 0 ? ` paths ${p.pathsDone}/${p.pathsTotal}` : ''}`
  const pct = Math.floor(100 * p.bytesDone / p.bytesTotal)
  const from = p.peers > 0 ? ` from ${p.peers} peer(s)` : ''
  return `${p.root}: ${p.phase} paths ${p.pathsDone}/${p.pathsTotal} ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} (${pct}%) ${formatBytes(p.rate)}/s${from}`
}

/** The node's Nix signing key, named after its peer id (made on first use). */
async function nodeSigningKey (dataDir: string): Promise<SecretKey> {
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  const { loadOrCreateIdentity } = await import('../../p2p/node/identity.ts')
  const { loadOrCreateNodeKey } = await import('../../nix/index.ts')
  const identity = await loadOrCreateIdentity(join(dataDir, 'p2p'))
  return await loadOrCreateNodeKey(join(dataDir, 'nix'), `emergence-${peerIdFromPrivateKey(identity).toString()}-1`)
}

/** Shares on the store directly when no node runs (the node announces everything at its next start). */
async function shareOffline (ctx: CliContext, paths: string[]): Promise<ShareResult & { announced: false }> {
  const { loadConfig } = await import('../../daemon/config.ts')
  const { LocalNix, sharePaths } = await import('../../nix/index.ts')
  const { createLogger } = await import('../../util/logger.ts')
  const config = await loadConfig(ctx.dataDir)
  const signingKey = await nodeSigningKey(ctx.dataDir)
  const nix = new LocalNix(config.nixStore !== undefined ? { storeRoot: config.nixStore } : {})
  const store = await ctx.openStore()
  const result = await sharePaths({ store, nix, signingKey, trustedKeys: [], logger: createLogger('nix') }, paths, { onProgress: p => { ctx.output.progress(shareLine(p)) } })
  return { ...result, announced: false }
}

export function registerNixCommands (program: Command): void {
  const nix = program.command('nix').description('share and pull Nix closures over the network')

  nix.command('share')
    .alias('push')
    .description('offer the closures of store paths to peers (NARs into the blob store, records signed with the node key)')
    .argument('<paths...>', 'store paths, or links to them such as ./result')
    .action(async (args: string[], _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const paths = await Promise.all(args.map(storePathArg))
      let result: Omit<ShareResult, 'digests'> & { announced: boolean }
      try {
        const done = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/nix/share', {
          body: { paths },
          timeoutMs: 0,
          onEvent: event => { ctx.output.progress(shareLine(event as ShareProgress), event) }
        }) as Omit<ShareResult, 'digests'>
        result = { ...done, announced: true }
      } catch (err) {
        if (!(err instanceof DaemonNotRunningError)) throw err
        const { digests: _digests, ...done } = await shareOffline(ctx, paths)
        result = done
      }
      ctx.output.done()
      ctx.output.result(result, () => `shared ${result.paths} path(s) of ${result.roots.join(' ')}: ${result.written} NAR(s) written, ${formatBytes(result.narBytes)} in all` +
        (result.announced ? '' : '\nno node is running: it announces them when it starts'))
    })

  nix.command('pull')
    .description('fetch the closure of a store path from peers into the node\'s Nix store (needs a running node)')
    .argument('<path>', 'the store path')
    .option('--trusted-key <keys>', 'require every path to be signed by one of these Nix public keys (name:base64), comma-separated', splitList)
    .action(async (arg: string, options: { trustedKey?: string[] }, command: Command) => {
      const ctx = contextOf(command)
      const path = await storePathArg(arg).catch(() => arg)
      const result = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/nix/pull', {
        body: { path, ...(options.trustedKey !== undefined ? { trustedKeys: options.trustedKey } : {}) },
        timeoutMs: 0,
        onEvent: event => { ctx.output.progress(pullLine(event as NixPullProgress), event) }
      }) as NixPullResult
      ctx.output.done()
      ctx.output.result(result, () => `pulled ${result.root}: ${result.imported.length} path(s) imported, ${result.alreadyValid} already valid, ` +
        `${formatBytes(result.fetchedBytes)} from ${Object.keys(result.fromPeers).length} peer(s)`)
    })

  nix.command('ls')
    .description('list the Nix paths and closures this node shares')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { listNixRefs, parseClosureRecord, parsePathRecord } = await import('../../nix/index.ts')
      const store = await ctx.openStore()
      const rows: Array<{ path: string, kind: string, narSize: number, ref: string }> = []
      for (const entry of await listNixRefs(store)) {
        const bytes = await store.blobs.readBytes(entry.descriptor.digest)
        if (entry.kind === 'closure') {
          const closure = parseClosureRecord(bytes)
          rows.push({ path: closure.root, kind: `closure of ${closure.entries.length}`, narSize: 0, ref: entry.ref })
          continue
        }
        const record = parsePathRecord(bytes)
        rows.push({ path: record.info.path, kind: 'path', narSize: record.info.narSize, ref: entry.ref })
      }
      ctx.output.result(rows, () => rows.length === 0
        ? 'no Nix paths shared'
        : table(['PATH', 'KIND', 'NAR SIZE'], rows.map(r => [r.path, r.kind, r.kind === 'path' ? formatBytes(r.narSize) : ''])))
    })

  nix.command('key')
    .description('print the node\'s Nix public key (for trusted-public-keys and other nodes\' nixTrustedKeys)')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { formatPublicKey } = await import('../../nix/index.ts')
      const key = await nodeSigningKey(ctx.dataDir)
      const publicKey = formatPublicKey(key.publicKey)
      ctx.output.result({ publicKey }, () => publicKey)
    })
}
