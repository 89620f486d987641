/**
 * `emergence logs <container>`: what a detached container wrote (stdout and stderr, in the order they came),
 * kept under the data dir until `rm`. `--follow` keeps printing until the container stops.
 */
import { open } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { contextOf, type CliContext } from '../context.ts'

const FOLLOW_POLL_MS = 200
const CHUNK = 256 * 1024

/** Prints `path` from `offset` to its current end; returns the new offset. */
export async function printFrom (ctx: CliContext, path: string, offset: number): Promise<number> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(CHUNK)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, offset)
      if (bytesRead === 0) return offset
      await ctx.output.raw(buffer.subarray(0, bytesRead))
      offset += bytesRead
    }
  } finally {
    await handle.close()
  }
}

export function registerLogsCommand (program: Command): void {
  program.command('logs')
    .description('print the output of a detached container (its log is kept until rm)')
    .argument('<id>', 'container id')
    .option('-f, --follow', 'keep printing new output until the container stops')
    .action(async (id: string, options: { follow?: boolean }, command: Command) => {
      const ctx = contextOf(command)
      const { containerLog, inspectContainer } = await import('../../runner/index.ts')
      const log = await containerLog({ dataDir: ctx.dataDir, id })
      let offset = await printFrom(ctx, log, 0)
      if (options.follow !== true) return
      while ((await inspectContainer({ dataDir: ctx.dataDir, id })).status !== 'stopped') {
        await sleep(FOLLOW_POLL_MS)
        offset = await printFrom(ctx, log, offset)
      }
      await printFrom(ctx, log, offset)
    })
}
