/** `emergence gc` and `emergence store ...`: garbage collection and integrity checks of the local store. */
import type { Command } from 'commander'
import { EmergenceError } from '../../util/errors.ts'
import type { GcPassReport } from '../../gc/pass.ts'
import { contextOf, type CliContext } from '../context.ts'
import { formatBytes } from '../output.ts'
import { parseSeconds } from '../options.ts'
import { notifyDaemon } from './node.ts'

/** Raised by `store verify` so that a corrupt store exits non-zero. */
export class StoreCorruptError extends EmergenceError {
  constructor (corrupt: number, missing: number) {
    super(`store verify found ${corrupt} corrupt and ${missing} missing blobs`, { code: 'STORE_CORRUPT' })
  }
}

/** `gc --auto`: one pass of the running node's automatic GC, and what it did. */
async function autoGc (ctx: CliContext): Promise<void> {
  const { controlRequest } = await import('../../daemon/control-client.ts')
  const { socketPath } = await import('../../daemon/socket-path.ts')
  const report = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/gc') as GcPassReport
  ctx.output.result(report, () => report.reasons.length === 0
    ? `nothing to do: the store's filesystem is ${Math.round(100 * report.after.used / Math.max(1, report.after.size))}% full, the store holds ${formatBytes(report.after.storeBytes)}`
    : [
        `${report.reasons.join(', ')}: evicted ${report.evicted.length} images, removed ${report.removedBlobs} blobs (${formatBytes(report.freedBytes)})`,
        ...report.evicted.map(e => `  evicted ${e.refs.join(', ')} (last used ${e.lastUsed})`)
      ].join('\n'))
}

export function registerStoreCommands (program: Command): void {
  program.command('gc')
    .description('delete blobs that no image ref, pin or in-flight write references, and unpacked layers no container or stored image uses')
    .option('--dry-run', 'only report what would be deleted')
    .option('--grace <seconds>', 'keep blobs written less than this many seconds ago', parseSeconds, 60)
    .option('--auto', 'ask the running node for a pass of its automatic GC now: it frees space only past a watermark or the size cap, least recently used images first (docs/operations.md)')
    .action(async (options: { dryRun?: boolean, grace: number, auto?: boolean }, command: Command) => {
      const ctx = contextOf(command)
      if (options.auto === true) {
        await autoGc(ctx)
        return
      }
      const store = await ctx.openStore()
      const result = await store.gc({ dryRun: options.dryRun === true, graceMs: options.grace * 1000 })
      if (options.dryRun !== true) await notifyDaemon(ctx, '/v1/withdraw', result.removed.map(r => r.digest))
      // Then the runner's unpacked layers that no container and no image left in the store uses.
      const { gcLayers } = await import('../../runner/layers/gc.ts')
      const layers = await gcLayers({ dataDir: ctx.dataDir, store, dryRun: options.dryRun === true })
      const verb = options.dryRun === true ? 'would remove' : 'removed'
      ctx.output.result({ ...result, layers }, () => [
        `${verb} ${result.removed.length} blobs (${formatBytes(result.freedBytes)}), kept ${result.kept}`,
        ...(layers.removed.length > 0 ? [`${verb} ${layers.removed.length} unpacked layers (${formatBytes(layers.freedBytes)}), kept ${layers.kept}`] : [])
      ].join('\n'))
    })

  const store = program.command('store').description('inspect the local store')

  store.command('path')
    .description('print the store directory (an OCI image layout)')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const root = (await ctx.openStore()).root
      ctx.output.result({ path: root }, () => root)
    })

  store.command('verify')
    .description('re-hash every blob and report corrupt or missing ones')
    .option('--quarantine', 'move corrupt blobs out of the store')
    .action(async (options: { quarantine?: boolean }, command: Command) => {
      const ctx = contextOf(command)
      const result = await (await ctx.openStore()).verify({ quarantine: options.quarantine === true, onBlob: d => { ctx.output.progress(`verifying ${d.slice(0, 19)}`) } })
      ctx.output.done()
      ctx.output.result(result, () => [
        `checked ${result.checked} blobs (${formatBytes(result.bytes)})`,
        ...result.corrupt.map(c => `corrupt ${c.digest} (content hashes to ${c.actual})${result.quarantined.includes(c.digest) ? ', quarantined' : ''}`),
        ...result.missing.map(d => `missing ${d}`)
      ].join('\n'))
      if (result.corrupt.length > 0 || result.missing.length > 0) throw new StoreCorruptError(result.corrupt.length, result.missing.length)
    })
}
