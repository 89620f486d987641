/**
 * `emergence automaton start <spec> | ls | stop | logs | rm | migrate`: automata from spec files
 * (src/automaton/). `start` makes sure the artefact is here (pulling an image or a closure through the running
 * node, as `run` does) and starts the automaton's container detached, under its restart policy. `migrate` asks
 * the running node to move one to another node (docs/automata.md "Migration"), printing a line per phase.
 */
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { contextOf } from '../context.ts'
import { formatBytes, table } from '../output.ts'
import { parseSeconds } from '../options.ts'
import { ensureClosure, ensureImage, nodeNixStore, storePathOf } from './run.ts'
import { printFrom } from './logs.ts'

async function start (specFile: string, command: Command): Promise<void> {
  const ctx = contextOf(command)
  const { parseSpec, startAutomaton, isNixArtefact, InvalidSpecError } = await import('../../automaton/index.ts')
  const text = await readFile(specFile, 'utf8').catch((err: unknown) => { throw new InvalidSpecError(specFile, '', `cannot read it: ${(err as Error).message}`, err) })
  const spec = parseSpec(text, specFile)
  const { createLogger } = await import('../../util/logger.ts')
  const logger = createLogger('runner')
  if (!isNixArtefact(spec)) {
    const store = await ctx.openStore()
    await ensureImage(ctx, store, spec.artefact)
    await startAutomaton({ dataDir: ctx.dataDir, spec, store, logger })
  } else {
    const storePath = storePathOf(spec.artefact)
    if (storePath === undefined) throw new InvalidSpecError(specFile, 'artefact', 'is not a Nix store path (/nix/store/<hash>-<name>)')
    const { LocalNix } = await import('../../nix/local-nix.ts')
    const nixStore = await nodeNixStore(ctx)
    const nix = new LocalNix(nixStore !== undefined ? { storeRoot: nixStore } : {})
    if (!await nix.isValid(storePath)) await ensureClosure(ctx, storePath)
    const closure = (await nix.closure([storePath])).map(info => info.path)
    await startAutomaton({ dataDir: ctx.dataDir, spec, closure, hostStoreDir: nix.realStoreDir, logger })
  }
  ctx.output.result({ name: spec.name, started: true }, () => `started ${spec.name}`)
}

interface PhaseLine { phase: string, ms: number, bytes?: number, fromPeers?: Record<string, number>, detail?: string }

/** One line per phase of a migration: what it moved, and how long it took. */
export function phaseLine (event: PhaseLine): string {
  const bytes = event.bytes !== undefined ? ` ${formatBytes(event.bytes)}` : ''
  const peers = event.fromPeers !== undefined ? ` from ${Object.keys(event.fromPeers).length} peer(s)` : ''
  const detail = event.detail !== undefined ? ` (${event.detail})` : ''
  return `${event.phase}:${bytes}${peers} in ${event.ms} ms${detail}`
}

async function migrate (name: string, options: { to: string, stopTimeout: number }, command: Command): Promise<void> {
  const ctx = contextOf(command)
  const { controlRequest } = await import('../../daemon/control-client.ts')
  const { socketPath } = await import('../../daemon/socket-path.ts')
  const result = await controlRequest(socketPath(ctx.dataDir), 'POST', '/v1/automata/migrate', {
    body: { name, to: options.to, stopTimeoutMs: Math.round(options.stopTimeout * 1000) },
    timeoutMs: 0,
    onEvent: event => { ctx.output.line(phaseLine(event as PhaseLine)) }
  }) as { name: string, to: string, downtimeMs: number }
  ctx.output.result(result, () => `migrated ${result.name} to ${result.to}: downtime ${Math.round(result.downtimeMs)} ms`)
}

export function registerAutomatonCommands (program: Command): void {
  const automaton = program.command('automaton').description('automata: a workload from a spec file, with its state and restart policy')

  automaton.command('start')
    .description('start an automaton from a spec file (YAML or JSON)')
    .argument('<spec>', 'the spec file')
    .action(async (specFile: string, _options: unknown, command: Command) => { await start(specFile, command) })

  automaton.command('ls')
    .description('list the automata of this node')
    .action(async (_options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { listAutomata } = await import('../../automaton/index.ts')
      const automata = await listAutomata(ctx.dataDir)
      ctx.output.result(automata, () => automata.length === 0
        ? 'no automata'
        : table(['NAME', 'ARTEFACT', 'STATUS', 'EXIT', 'RESTART', 'STATE'], automata.map(a => [
          a.spec.name, a.spec.artefact, a.status, a.exitCode !== undefined ? String(a.exitCode) : '', a.spec.restart ?? 'no', a.stateDir ?? ''
        ])))
    })

  automaton.command('stop')
    .description('stop an automaton (SIGTERM, then SIGKILL); it is not restarted')
    .argument('<name>', 'automaton name')
    .option('--timeout <seconds>', 'seconds before SIGKILL', parseSeconds, 10)
    .action(async (name: string, options: { timeout: number }, command: Command) => {
      const ctx = contextOf(command)
      const { stopAutomaton } = await import('../../automaton/index.ts')
      const stopped = await stopAutomaton(ctx.dataDir, name, options.timeout * 1000)
      ctx.output.result({ name, stopped }, () => stopped ? `stopped ${name}` : `${name} was not running`)
    })

  automaton.command('logs')
    .description('print the output of an automaton')
    .argument('<name>', 'automaton name')
    .action(async (name: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command)
      const { loadAutomaton } = await import('../../automaton/index.ts')
      const { containerLog } = await import('../../runner/index.ts')
      await loadAutomaton(ctx.dataDir, name)
      await printFrom(ctx, await containerLog({ dataDir: ctx.dataDir, id: name }), 0)
    })

  automaton.command('migrate')
    .description('move a running automaton with its state to another node; it runs here again if anything fails')
    .argument('<name>', 'automaton name')
    .requiredOption('--to <peer>', 'the target node: its peer id, or /ip4/<ip>/tcp/<port>/p2p/<peer id>')
    .option('--stop-timeout <seconds>', 'seconds the process has to end on SIGTERM before SIGKILL', parseSeconds, 10)
    .action(async (name: string, options: { to: string, stopTimeout: number }, command: Command) => { await migrate(name, options, command) })

  automaton.command('rm')
    .description('stop and remove an automaton, its container and (unless --keep-state) its state directory')
    .argument('<name>', 'automaton name')
    .option('--keep-state', 'keep the state directory')
    .action(async (name: string, options: { keepState?: boolean }, command: Command) => {
      const ctx = contextOf(command)
      const { removeAutomaton } = await import('../../automaton/index.ts')
      await removeAutomaton(ctx.dataDir, name, { keepState: options.keepState === true })
      ctx.output.result({ removed: name }, () => `removed ${name}`)
    })
}
