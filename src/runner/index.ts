/**
 * The runner: pulled artefacts -> OCI runtime bundle -> runc.
 *
 * - `unpackRootfs` applies an image's layers to a new rootfs exactly as `umoci unpack` does (docs/formats.md
 *   "OCI layers"): streaming, digest and diff_id verified, whiteouts, every name resolved inside the rootfs; built in
 *   a temp directory and renamed, so a failure leaves nothing; applied in a worker thread, off the event loop;
 *   bounded (unpack-limits.ts): unpacked bytes, free space left, entry path length and depth.
 * - `imageSpec` / `closureSpec` write config.json on `runc spec`'s defaults (docs/formats.md "Runtime config").
 * - `Runtime` drives the runc CLI (run, detached run, state, kill, delete, list) under its own state root.
 * - `prepareImageRootfs` gives a container its rootfs: an overlayfs view on the layer cache (layers/: each layer
 *   unpacked once, keyed by its chain id), or a copy where overlayfs cannot be used.
 * - `runImage` / `runClosure` do all of it for the CLI; `listContainers`, `stopContainer`, `removeContainer`
 *   serve `emergence ps/stop/rm` from the container records kept under `<data-dir>/runner/`.
 *
 * @example
 * ```ts
 * const store = await Store.open(storeRoot(dataDir))
 * const { exitCode } = await runImage({ store, image: 'library/busybox:1.36', dataDir, command: ['echo', 'hi'], remove: true })
 * await runClosure({ dataDir, closure: ['/nix/store/<h>-hello', ...], args: ['/nix/store/<h>-hello/bin/hello'] })
 * ```
 *
 * Errors (matched by `name`): RuncNotFoundError, RuncExitError, PlatformMismatchError, EntrypointNotFoundError,
 * NoCommandError, LayerDigestMismatchError, DiffIdMismatchError, InvalidLayerError, UnsupportedLayerError,
 * UnpackError, EntryPathError, UnpackLimitError, InsufficientSpaceError, UserNotFoundError,
 * ContainerNotFoundError, InvalidRunRequestError, OverlayMountError.
 */
export * from './errors.ts'
export { cleanEntryName, resolveInRoot, MAX_SYMLINKS } from './secure-join.ts'
export { loadImage, type ResolvedImage } from './image.ts'
export { unpackRootfs, layerJobs, type UnpackOptions } from './unpack.ts'
export { resolveLimits, PATH_MAX, DEFAULT_MAX_DEPTH, type UnpackLimits, type UnpackLimitsInit } from './unpack-limits.ts'
export { applyLayer, applyLayers, type LayerJob, type ApplyOptions } from './layer-stream.ts'
export { defaultSpec, DEFAULT_PATH, type RuntimeSpec, type Mount, type SpecOptions } from './spec.ts'
export { imageSpec, processArgs, processEnv, type ImageSpecOptions, type ProcessOptions } from './image-spec.ts'
export { resolveUser, resolveUserFrom, type ExecUser } from './user.ts'
export { findExecutable, checkEntrypoint, type BindMount } from './entrypoint.ts'
export { closureSpec, createClosureRootfs, closureMounts, isStorePath, type ClosureSpecOptions } from './closure.ts'
export { Runtime, findInPath, checkContainerId, type RuntimeInit, type RunIo, type ContainerState } from './runtime.ts'
export { ContainerRecords, RunnerPaths, type ContainerRecord } from './containers.ts'
export { readExitCode, shimFiles, type RestartPolicy } from './shim.ts'
export { runImage, runClosure, newContainerId, type RunImageOptions, type RunClosureOptions, type RunCommonOptions, type RunResult } from './run.ts'
export { prepareImageRootfs, releaseRootfs, type RootfsMode, type RootfsOptions, type PreparedRootfs } from './rootfs.ts'
export { LayerCache, gcLayers, type LayerGcResult } from './layers/index.ts'
export { listContainers, inspectContainer, stopContainer, removeContainer, containerLog, type ContainerStatus, type ManageOptions } from './manage.ts'
