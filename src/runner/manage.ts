/**
 * `emergence ps / stop / rm` on top of the container records and runc's state.
 */
import { writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../util/logger.ts'
import { ContainerRecords, RunnerPaths, type ContainerRecord } from './containers.ts'
import { ContainerNotFoundError, InvalidRunRequestError } from './errors.ts'
import { discard, runtimeFor } from './run.ts'
import type { Runtime } from './runtime.ts'
import { readExitCode, shimFiles } from './shim.ts'

export interface ManageOptions {
  dataDir: string
  runc?: string
  path?: string
  logger?: Logger
}

export interface ContainerStatus extends ContainerRecord {
  /** runc's status (`created`, `running`, `paused`, `stopped`), or `stopped` when runc no longer knows it. */
  status: string
  pid?: number
}

async function statusOf (runtime: Runtime, record: ContainerRecord): Promise<ContainerStatus> {
  try {
    const state = await runtime.state(record.id)
    return { ...record, status: state.status, ...(state.pid > 0 ? { pid: state.pid } : {}) }
  } catch (err) {
    if (!(err instanceof ContainerNotFoundError)) throw err
    // A detached container's exit code is where its shim wrote it (shim.ts).
    const exitCode = record.exitCode ?? (record.log !== undefined ? await readExitCode(shimFiles(record.log).exit) : undefined)
    return { ...record, status: 'stopped', ...(exitCode !== undefined ? { exitCode } : {}) }
  }
}

function open (options: ManageOptions): { runtime: Runtime, records: ContainerRecords } {
  const paths = new RunnerPaths(options.dataDir)
  return { runtime: runtimeFor(paths, options), records: new ContainerRecords(paths.containers) }
}

async function recordOf (records: ContainerRecords, id: string): Promise<ContainerRecord> {
  const record = await records.get(id)
  if (record === undefined) throw new ContainerNotFoundError(id)
  return record
}

/** Every recorded container with its current status, oldest first. */
export async function listContainers (options: ManageOptions): Promise<ContainerStatus[]> {
  const { runtime, records } = open(options)
  return await Promise.all((await records.list()).map(async record => await statusOf(runtime, record)))
}

export async function inspectContainer (options: ManageOptions & { id: string }): Promise<ContainerStatus> {
  const { runtime, records } = open(options)
  return await statusOf(runtime, await recordOf(records, options.id))
}

async function waitStopped (runtime: Runtime, record: ContainerRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if ((await statusOf(runtime, record)).status === 'stopped') return true
    if (Date.now() >= deadline) return false
    await sleep(50)
  }
}

/**
 * Stops a container: `signal` (default SIGTERM) to its init process, then SIGKILL to all its processes if it
 * is still running after `timeoutMs` (default 10 s). Returns false when it was not running.
 */
export async function stopContainer (options: ManageOptions & { id: string, signal?: string, timeoutMs?: number }): Promise<boolean> {
  const { runtime, records } = open(options)
  const record = await recordOf(records, options.id)
  // Tell its shim not to start it again, whatever its restart policy.
  if (record.log !== undefined) await writeFile(shimFiles(record.log).stop, '')
  if ((await statusOf(runtime, record)).status !== 'running') return false
  await runtime.kill(record.id, options.signal ?? 'SIGTERM')
  if (await waitStopped(runtime, record, options.timeoutMs ?? 10_000)) return true
  await runtime.kill(record.id, 'SIGKILL', { all: true })
  await waitStopped(runtime, record, 10_000)
  return true
}

/** Removes a stopped container (`force`: a running one too): runc state, bundle, log and record. */
export async function removeContainer (options: ManageOptions & { id: string, force?: boolean }): Promise<void> {
  const { runtime, records } = open(options)
  const record = await recordOf(records, options.id)
  const { status } = await statusOf(runtime, record)
  if (status === 'running' && options.force !== true) {
    throw new InvalidRunRequestError(`container ${record.id} is running: stop it first, or force the removal`)
  }
  await discard(runtime, records, record)
}

/**
 * The output of a detached container so far (its log: stdout and stderr as they came); throws
 * ContainerNotFoundError, or InvalidRunRequestError for a container that ran in the foreground (no log).
 */
export async function containerLog (options: ManageOptions & { id: string }): Promise<string> {
  const { records } = open(options)
  const record = await recordOf(records, options.id)
  if (record.log === undefined) throw new InvalidRunRequestError(`container ${record.id} ran in the foreground: its output went to the terminal, there is no log`)
  return record.log
}
