/**
 * Automata on this node: a spec kept under `<data-dir>/automata/<name>/spec.json`, its state directory beside
 * it (`state/`, bind-mounted read-write where the spec says), and one detached container named after it whose
 * shim applies the restart policy (runner/shim.ts). Stopping or removing the automaton stops the container
 * first; removing it deletes its state unless asked to keep it.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Store } from '../store/store.ts'
import { isErrno } from '../util/errors.ts'
import { writeFileAtomic } from '../util/fs.ts'
import type { Logger } from '../util/logger.ts'
import { ContainerNotFoundError } from '../runner/errors.ts'
import { inspectContainer, removeContainer, stopContainer, type ContainerStatus } from '../runner/manage.ts'
import { runClosure, runImage, type RunCommonOptions, type RunResult } from '../runner/run.ts'
import type { Mount } from '../runner/spec.ts'
import { AutomatonNotFoundError, AutomatonRunningError } from './errors.ts'
import { checkAutomatonName, isNixArtefact, validateSpec, type AutomatonSpec } from './spec.ts'

export class AutomatonPaths {
  readonly root: string

  constructor (dataDir: string) {
    this.root = join(dataDir, 'automata')
  }

  dir (name: string): string {
    return join(this.root, checkAutomatonName(name))
  }

  spec (name: string): string {
    return join(this.dir(name), 'spec.json')
  }

  state (name: string): string {
    return join(this.dir(name), 'state')
  }
}

export async function loadAutomaton (dataDir: string, name: string): Promise<AutomatonSpec> {
  const path = new AutomatonPaths(dataDir).spec(name)
  try {
    return validateSpec(JSON.parse(await readFile(path, 'utf8')), path)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new AutomatonNotFoundError(name)
    throw err
  }
}

async function containerOf (dataDir: string, name: string): Promise<ContainerStatus | undefined> {
  try {
    return await inspectContainer({ dataDir, id: name })
  } catch (err) {
    if (err instanceof ContainerNotFoundError) return undefined
    throw err
  }
}

export interface AutomatonStatus {
  spec: AutomatonSpec
  /** The container's status (`running`, `stopped`...), or `absent` when it has none. */
  status: string
  exitCode?: number
  pid?: number
  /** The host directory of its state, when it has one. */
  stateDir?: string
}

export async function listAutomata (dataDir: string): Promise<AutomatonStatus[]> {
  const paths = new AutomatonPaths(dataDir)
  const names = await readdir(paths.root).catch(() => [] as string[])
  const out: AutomatonStatus[] = []
  for (const name of names.sort()) {
    const spec = await loadAutomaton(dataDir, name).catch(() => undefined)
    if (spec === undefined) continue
    const container = await containerOf(dataDir, name)
    out.push({
      spec,
      status: container?.status ?? 'absent',
      ...(container?.exitCode !== undefined ? { exitCode: container.exitCode } : {}),
      ...(container?.pid !== undefined ? { pid: container.pid } : {}),
      ...(spec.state !== undefined ? { stateDir: paths.state(name) } : {})
    })
  }
  return out
}

export interface StartAutomatonOptions {
  dataDir: string
  spec: AutomatonSpec
  /** The store, for an image artefact (which must be in it). */
  store?: Store
  /** For a Nix artefact: its closure, and where the host keeps its store paths. */
  closure?: string[]
  hostStoreDir?: string
  logger?: Logger
}

/**
 * Starts the automaton's container (detached, under its restart policy), after saving its spec and creating its
 * state directory. A stopped container of the same name is replaced; a running one is AutomatonRunningError.
 */
export async function startAutomaton (options: StartAutomatonOptions): Promise<RunResult> {
  const { dataDir, spec } = options
  const paths = new AutomatonPaths(dataDir)
  const existing = await containerOf(dataDir, spec.name)
  if (existing !== undefined && existing.status !== 'stopped') throw new AutomatonRunningError(spec.name)
  if (existing !== undefined) await removeContainer({ dataDir, id: spec.name, force: true })
  await mkdir(paths.dir(spec.name), { recursive: true, mode: 0o700 })
  await writeFileAtomic(paths.spec(spec.name), JSON.stringify(spec, null, 2) + '\n')
  const mounts: Mount[] = []
  if (spec.state !== undefined) {
    await mkdir(paths.state(spec.name), { recursive: true, mode: 0o755 })
    mounts.push({ destination: spec.state, type: 'bind', source: paths.state(spec.name), options: ['rbind', 'rw'] })
  }
  const env = Object.entries(spec.process?.env ?? {}).map(([key, value]) => `${key}=${value}`)
  const common: RunCommonOptions & { env: string[], mounts: Mount[] } = {
    dataDir,
    id: spec.name,
    detach: true,
    restart: spec.restart ?? 'no',
    env,
    mounts,
    ...(spec.process?.user !== undefined ? { user: spec.process.user } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {})
  }
  const args = spec.process?.args
  if (isNixArtefact(spec)) {
    return await runClosure({
      ...common,
      closure: options.closure ?? [],
      args: args ?? [spec.artefact],
      ...(spec.process?.cwd !== undefined ? { cwd: spec.process.cwd } : {}),
      ...(options.hostStoreDir !== undefined ? { hostStoreDir: options.hostStoreDir } : {})
    })
  }
  if (options.store === undefined) throw new TypeError('startAutomaton: an image artefact needs the store')
  return await runImage({
    ...common,
    store: options.store,
    image: spec.artefact,
    ...(args !== undefined ? { entrypoint: args, command: [] } : {}),
    ...(spec.process?.cwd !== undefined ? { workingDir: spec.process.cwd } : {})
  })
}

/** Stops the automaton's container (its restart policy no longer applies); false when it was not running. */
export async function stopAutomaton (dataDir: string, name: string, timeoutMs?: number): Promise<boolean> {
  await loadAutomaton(dataDir, name)
  if (await containerOf(dataDir, name) === undefined) return false
  return await stopContainer({ dataDir, id: name, ...(timeoutMs !== undefined ? { timeoutMs } : {}) })
}

/** Stops and removes the automaton: its container, its spec, and its state unless `keepState`. */
export async function removeAutomaton (dataDir: string, name: string, options: { keepState?: boolean } = {}): Promise<void> {
  await loadAutomaton(dataDir, name)
  if (await containerOf(dataDir, name) !== undefined) {
    await stopContainer({ dataDir, id: name, timeoutMs: 10_000 })
    await removeContainer({ dataDir, id: name, force: true })
  }
  const paths = new AutomatonPaths(dataDir)
  if (options.keepState === true) await rm(paths.spec(name), { force: true })
  else await rm(paths.dir(name), { recursive: true, force: true })
}
