/**
 * `emergence sync add|rm|ls|status`: the cluster's desired set (docs/automata.md "Cluster sync"), through the
 * running node's control socket. `add` and `rm` need this node to be a publisher; `status --wait` returns once
 * the node holds the whole set (the way to wait for a node that bootstraps).
 */
import type { Command } from 'commander'
import { controlRequest } from '../../daemon/control-client.ts'
import { socketPath } from '../../daemon/socket-path.ts'
import type { DesiredItem } from '../../sync/document.ts'
import type { ItemStatus } from '../../sync/reconciler.ts'
import type { SyncStatus } from '../../sync/service.ts'
import { contextOf, type CliContext } from '../context.ts'
import { parseSeconds } from '../options.ts'
import { formatBytes, table } from '../output.ts'

const POLL_MS = 500

function what (item: DesiredItem): string {
  return item.item.kind === 'image' ? item.item.digest : 'nix closure'
}

function progress (item: ItemStatus): string {
  if (item.state === 'failed') return `${item.error ?? 'failed'} (attempt ${item.attempts}, retry at ${item.retryAt ?? '?'})`
  if (item.state === 'pulling' || item.state === 'held') return item.bytesTotal > 0 ? `${formatBytes(item.bytesDone)} / ${formatBytes(item.bytesTotal)}` : ''
  return ''
}

/** One line: in sync, or how far from it. */
export function summary (status: SyncStatus): string {
  const held = status.items.filter(i => i.state === 'held').length
  if (!status.heard) return 'not in sync: the desired set has not been heard from any peer yet'
  if (status.inSync) return `in sync: ${held} item(s) held`
  const failed = status.items.filter(i => i.state === 'failed').length
  return `not in sync: ${held} of ${status.items.length} item(s) held${failed > 0 ? `, ${failed} failing` : ''}`
}

function statusText (status: SyncStatus): string {
  const rows = status.items.map(i => [i.key, i.state, progress(i)])
  const refused = status.refused.length > 0 ? `\nrefused ${status.refused.length} document(s), the last from ${status.refused.at(-1)?.publisher ?? ''}: ${status.refused.at(-1)?.reason ?? ''}` : ''
  return (rows.length > 0 ? table(['ITEM', 'STATE', 'PROGRESS'], rows) + '\n' : '') + summary(status) + refused
}

async function syncStatus (ctx: CliContext): Promise<SyncStatus> {
  return await controlRequest(socketPath(ctx.dataDir), 'GET', '/v1/sync/status') as SyncStatus
}

/** Polls the node until it is in sync, showing progress; SyncWaitTimeoutError after `timeout` seconds (0: never). */
async function waitInSync (ctx: CliContext, timeout: number): Promise<SyncStatus> {
  const deadline = timeout > 0 ? Date.now() + timeout * 1000 : Infinity
  for (;;) {
    const status = await syncStatus(ctx)
    if (status.inSync) return status
    const pulling = status.items.filter(i => i.state === 'pulling').map(i => `${i.key} ${progress(i)}`)
    ctx.output.progress(`${summary(status)}${pulling.length > 0 ? `; pulling ${pulling.join(', ')}` : ''}`, status)
    if (Date.now() > deadline) {
      const { SyncWaitTimeoutError } = await import('../../sync/errors.ts')
      throw new SyncWaitTimeoutError(timeout, summary(status))
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

export function registerSyncCommands (program: Command): void {
  const sync = program.command('sync').description('the cluster\'s desired set of images and Nix closures, which every node pulls and keeps (needs a running node)')

  sync.command('add')
    .description('add an image this node holds, or a Nix closure, to the desired set (this node must be a publisher)')
    .argument('<item>', 'name:tag, name@sha256:..., or /nix/store/<hash>-<name>')
    .action(async (item: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const added = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/sync/add', { body: { item }, timeoutMs: 0 }) as DesiredItem
      ctx.output.result(added, () => `added ${added.key} (${what(added)}) to the desired set`)
    })

  sync.command('rm')
    .description('remove an item from the desired set (nodes keep what they hold until GC, which no longer protects it)')
    .argument('<item>', 'the ref or store path, as `sync ls` shows it')
    .action(async (item: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const removed = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/sync/rm', { body: { item } }) as { key: string }
      ctx.output.result(removed, () => `removed ${removed.key} from the desired set`)
    })

  sync.command('ls')
    .description('list the desired set')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const items = await controlRequest(socketPath(ctx.dataDir), 'GET', '/v1/sync') as DesiredItem[]
      ctx.output.result(items, () => items.length === 0
        ? 'the desired set is empty'
        : table(['ITEM', 'KIND', 'CONTENT', 'PUBLISHER'], items.map(i => [i.key, i.item.kind, what(i), i.publisher])))
    })

  sync.command('status')
    .description('per item: held, pulling (with progress) or failed (with the reason); and whether the node is in sync')
    .option('--wait', 'return only once the node is in sync, showing progress')
    .option('--timeout <seconds>', 'with --wait: give up after this long (0: never)', parseSeconds, 0)
    .action(async (options: { wait?: boolean, timeout: number }, command: Command) => {
      const ctx = contextOf(command)
      const status = options.wait === true ? await waitInSync(ctx, options.timeout) : await syncStatus(ctx)
      ctx.output.done()
      ctx.output.result(status, () => statusText(status))
    })
}
