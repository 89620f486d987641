/**
 * What the CLI calls to run something: bundle assembly + runc. `runImage` unpacks an image from the store
 * into `<data-dir>/runner/bundles/<id>/rootfs` and writes its config.json; `runClosure` builds a minimal rootfs
 * that sees exactly a Nix closure. Both check the entrypoint, record the container, then run it in the
 * foreground (exit code returned) or detached (output in `<data-dir>/runner/logs/<id>.log`).
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Store } from '../store/store.ts'
import type { Descriptor, Platform } from '../oci/types.ts'
import { isErrno } from '../util/errors.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { silentLogger, type Logger } from '../util/logger.ts'
import { closureSpec, createClosureRootfs, type ClosureSpecOptions } from './closure.ts'
import { ContainerRecords, RunnerPaths, type ContainerRecord } from './containers.ts'
import { bindMountsOf, checkEntrypoint } from './entrypoint.ts'
import { InvalidRunRequestError } from './errors.ts'
import { loadImage } from './image.ts'
import { imageSpec, type ImageSpecOptions } from './image-spec.ts'
import { checkContainerId, Runtime, type RunIo } from './runtime.ts'
import { runDetachedWithExit, shimFiles, type RestartPolicy } from './shim.ts'
import type { RuntimeSpec } from './spec.ts'
import { prepareImageRootfs, releaseRootfs, type PreparedRootfs, type RootfsMode } from './rootfs.ts'
import type { UnpackLimitsInit } from './unpack-limits.ts'

export interface RunCommonOptions {
  /** Emergence's data directory; the runner keeps bundles, records, logs and runc state under `runner/`. */
  dataDir: string
  /** Default: 12 random hex digits. */
  id?: string
  /** Start in the background and return at once; output goes to the container's log file. */
  detach?: boolean
  /** A detached container's restart policy (shim.ts). Default `no`. */
  restart?: RestartPolicy
  /** After a foreground run, delete the bundle and the record (`docker run --rm`). Default false. */
  remove?: boolean
  /** Stdio of a foreground run (default: this process's stdout/stderr, stdin from /dev/null). */
  io?: RunIo
  /** The runc binary (name in PATH or path) and the PATH to find it in. */
  runc?: string
  path?: string
  logger?: Logger
  /** Aborts the unpack, or kills a running foreground container. */
  signal?: AbortSignal
}

export interface RunImageOptions extends RunCommonOptions, ImageSpecOptions {
  store: Store
  /** A `name:tag` or `name@digest` ref, a digest, or a manifest/index descriptor. */
  image: string | Descriptor
  /** Default: the host's. */
  platform?: Platform
  /** Bytes, free space and path depth the unpack may use (defaults: unpack-limits.ts). */
  unpackLimits?: UnpackLimitsInit
  /** An overlayfs view on the layer cache, or a copy of the rootfs (rootfs.ts). Default `auto`. */
  rootfs?: RootfsMode
}

export interface RunClosureOptions extends RunCommonOptions, ClosureSpecOptions {}

export interface RunResult {
  id: string
  bundle: string
  record: ContainerRecord
  /** The container's exit code (foreground runs). */
  exitCode?: number
}

export function newContainerId (): string {
  return randomBytes(6).toString('hex')
}

export function runtimeFor (paths: RunnerPaths, options: { runc?: string, path?: string, logger?: Logger }): Runtime {
  return new Runtime({
    root: paths.runcRoot,
    ...(options.runc !== undefined ? { runc: options.runc } : {}),
    ...(options.path !== undefined ? { path: options.path } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {})
  })
}

/** Creates the bundle directory (0700, as umoci does: the rootfs may hold setuid files) or says the id is taken. */
async function createBundleDir (bundle: string): Promise<void> {
  await mkdir(dirname(bundle), { recursive: true })
  try {
    await mkdir(bundle, { mode: 0o700 })
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw new InvalidRunRequestError(`a container ${JSON.stringify(bundle.split('/').at(-1))} already exists`)
    throw err
  }
  await chmod(bundle, 0o700)
}

/** Builds the bundle with `build` (which returns config.json's content), removing it again on failure. */
async function assemble (bundle: string, build: (rootfs: string) => Promise<RuntimeSpec>): Promise<void> {
  await createBundleDir(bundle)
  try {
    const rootfs = join(bundle, 'rootfs')
    const spec = await build(rootfs)
    await checkEntrypoint(rootfs, spec, bindMountsOf(spec))
    await writeFileAtomic(join(bundle, 'config.json'), JSON.stringify(spec, null, 2) + '\n')
  } catch (err) {
    // The first error is the one to report; an overlay that will not unmount keeps its bundle (rm would fail).
    await releaseRootfs(bundle).catch(() => {})
    await rm(bundle, { recursive: true, force: true }).catch(() => {})
    throw err
  }
}

/**
 * Unpacks `options.image` from the store into a new bundle and runs it with runc. Throws RuncNotFoundError
 * (before any work), PlatformMismatchError, EntrypointNotFoundError, NoCommandError, UserNotFoundError,
 * RuncExitError, and the store's and unpacker's errors.
 */
export async function runImage (options: RunImageOptions): Promise<RunResult> {
  const paths = new RunnerPaths(options.dataDir)
  const runtime = runtimeFor(paths, options)
  await runtime.binary()
  const image = await loadImage(options.store, options.image, options.platform)
  const id = checkContainerId(options.id ?? newContainerId())
  const bundle = paths.bundle(id)
  let prepared: PreparedRootfs | undefined
  await assemble(bundle, async rootfs => {
    prepared = await prepareImageRootfs(options.store, image, bundle, paths, {
      logger: options.logger ?? silentLogger,
      ...(options.rootfs !== undefined ? { mode: options.rootfs } : {}),
      ...(options.unpackLimits !== undefined ? { limits: options.unpackLimits } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {})
    })
    return await imageSpec(image.config, rootfs, options)
  })
  const record: ContainerRecord = {
    id,
    kind: 'image',
    image: image.ref,
    digest: image.manifestDescriptor.digest,
    bundle,
    created: new Date().toISOString(),
    detached: options.detach === true,
    runcRoot: paths.runcRoot,
    ...(prepared !== undefined ? { rootfs: prepared.kind } : {}),
    ...(prepared?.layers !== undefined ? { layers: prepared.layers } : {})
  }
  return await start(runtime, paths, record, options)
}

/**
 * Runs `options.args` in a bundle that sees only the store paths of `options.closure`. Throws
 * RuncNotFoundError, InvalidRunRequestError (a path that is not in the store), EntrypointNotFoundError,
 * RuncExitError.
 */
export async function runClosure (options: RunClosureOptions): Promise<RunResult> {
  const paths = new RunnerPaths(options.dataDir)
  const runtime = runtimeFor(paths, options)
  await runtime.binary()
  const id = checkContainerId(options.id ?? newContainerId())
  const bundle = paths.bundle(id)
  await assemble(bundle, async rootfs => {
    await createClosureRootfs(rootfs, options.closure, options.hostStoreDir)
    return closureSpec(options)
  })
  const root = /^\/nix\/store\/[^/]+/.exec(options.args[0] ?? '')?.[0] ?? options.closure[0] ?? ''
  const record: ContainerRecord = {
    id,
    kind: 'closure',
    image: root,
    bundle,
    created: new Date().toISOString(),
    detached: options.detach === true,
    runcRoot: paths.runcRoot
  }
  return await start(runtime, paths, record, options)
}

async function start (runtime: Runtime, paths: RunnerPaths, record: ContainerRecord, options: RunCommonOptions): Promise<RunResult> {
  const records = new ContainerRecords(paths.containers)
  const { id, bundle } = record
  if (options.detach === true) {
    const started = { ...record, log: paths.log(id) }
    await records.put(started)
    try {
      await runDetachedWithExit(runtime, id, bundle, paths.log(id), options.restart)
    } catch (err) {
      await discard(runtime, records, started)
      throw err
    }
    return { id, bundle, record: started }
  }
  await records.put(record)
  let exitCode: number
  try {
    exitCode = await runtime.run(id, bundle, { ...options.io, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
  } catch (err) {
    await discard(runtime, records, record)
    throw err
  }
  const finished = { ...record, exitCode }
  if (options.remove === true) await discard(runtime, records, record)
  else await records.put(finished)
  return { id, bundle, record: finished, exitCode }
}

/** Removes every trace of a container: runc state, bundle, log, record. */
export async function discard (runtime: Runtime, records: ContainerRecords, record: ContainerRecord): Promise<void> {
  await runtime.delete(record.id, { force: true }).catch(() => {})
  await releaseRootfs(record.bundle)
  await rm(record.bundle, { recursive: true, force: true })
  if (record.log !== undefined) {
    for (const file of [record.log, ...Object.values(shimFiles(record.log))]) await rm(file, { force: true })
  }
  await records.remove(record.id)
}
