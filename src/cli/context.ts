/**
 * What every command needs: resolved global options, the output, and the store opened on demand (loaded only then,
 * so that commands which never open the store start faster).
 */
import type { Command } from 'commander'
import { defaultDataDir, storeRoot } from '../store/paths.ts'
import type { Store } from '../store/store.ts'
import { createOutput, type Output } from './output.ts'

export interface CliContext {
  dataDir: string
  output: Output
  openStore: () => Promise<Store>
}

/** Builds the context from the root program's options (`--data-dir`, `--json`). */
export function contextOf (command: Command): CliContext {
  let root = command
  while (root.parent !== null) root = root.parent
  const options = root.opts<{ dataDir?: string, json?: boolean }>()
  const dataDir = options.dataDir ?? defaultDataDir()
  return {
    dataDir,
    output: createOutput(options.json === true),
    openStore: async () => {
      const { Store } = await import('../store/store.ts')
      return await Store.open(storeRoot(dataDir))
    }
  }
}
