/**
 * Image config -> runtime config.json (docs/formats.md "Runtime config", following umoci's oci/config/convert): on the `runc spec`
 * baseline, `args` = Entrypoint ++ Cmd, `cwd` = WorkingDir or `/`, env = image Env with a default PATH only when
 * it has none, then the caller's overrides; `User` resolved in the rootfs; each Volume becomes a tmpfs.
 */
import { posix } from 'node:path'
import type { ImageConfig } from '../oci/types.ts'
import { InvalidRunRequestError, NoCommandError } from './errors.ts'
import { applySpecOptions, DEFAULT_PATH, defaultSpec, hasEnv, setEnv, type RuntimeSpec, type SpecOptions } from './spec.ts'
import { resolveUser } from './user.ts'

/** Overrides of what the image says about its process (like `docker run`'s flags). */
export interface ProcessOptions {
  /** Replaces the image's Entrypoint; the image's Cmd is then dropped unless `command` is given too. */
  entrypoint?: string[]
  /** Replaces the image's Cmd. */
  command?: string[]
  /** `NAME=value` entries set over the image's Env. */
  env?: string[]
  workingDir?: string
  /** `user`, `uid`, `user:group`, `uid:gid`, ... (docs/formats.md "Manifests, indexes and configs"). */
  user?: string
}

export interface ImageSpecOptions extends ProcessOptions, SpecOptions {
  /** Mount the rootfs read-only (runc spec's default). Default false: each bundle has its own rootfs copy. */
  readonlyRootfs?: boolean
}

/** Options umoci gives a Volume's tmpfs. */
const VOLUME_OPTIONS = ['rw', 'nosuid', 'nodev', 'noexec', 'relatime']

function checkEnvEntry (entry: string, where: string): string {
  if (entry.indexOf('=') < 1) throw new InvalidRunRequestError(`${where}: environment entry ${JSON.stringify(entry)} is not NAME=value`)
  return entry
}

/** The process's argument list: Entrypoint ++ Cmd with the overrides applied; throws NoCommandError. */
export function processArgs (config: ImageConfig, options: ProcessOptions = {}): string[] {
  const image = config.config ?? {}
  const entrypoint = options.entrypoint ?? image.Entrypoint ?? []
  const command = options.command ?? (options.entrypoint !== undefined ? [] : image.Cmd ?? [])
  const args = [...entrypoint, ...command]
  if (args.length === 0) throw new NoCommandError()
  return args
}

/** The process's environment: image Env, PATH when missing, then `overrides`. */
export function processEnv (imageEnv: string[], overrides: string[] = []): string[] {
  const env: string[] = []
  for (const entry of imageEnv) setEnv(env, checkEnvEntry(entry, 'image config Env'))
  if (!hasEnv(env, 'PATH')) env.unshift(`PATH=${DEFAULT_PATH}`)
  for (const entry of overrides) setEnv(env, checkEnvEntry(entry, 'env override'))
  return env
}

/**
 * Builds config.json for an image whose rootfs is unpacked at `rootfs` (read for /etc/passwd and /etc/group).
 * Throws NoCommandError, UserNotFoundError, InvalidRunRequestError.
 */
export async function imageSpec (config: ImageConfig, rootfs: string, options: ImageSpecOptions = {}): Promise<RuntimeSpec> {
  const image = config.config ?? {}
  const spec = defaultSpec()
  spec.root.readonly = options.readonlyRootfs ?? false
  spec.process.args = processArgs(config, options)
  spec.process.env = processEnv(image.Env ?? [], options.env)
  const workingDir = options.workingDir ?? image.WorkingDir ?? ''
  spec.process.cwd = posix.resolve('/', workingDir === '' ? '/' : workingDir)

  const user = await resolveUser(rootfs, options.user ?? image.User ?? '')
  spec.process.user = { uid: user.uid, gid: user.gid, ...(user.additionalGids.length > 0 ? { additionalGids: user.additionalGids } : {}) }
  if (!hasEnv(spec.process.env, 'HOME')) setEnv(spec.process.env, `HOME=${user.home !== undefined && user.home !== '' ? user.home : '/'}`)

  for (const volume of Object.keys(image.Volumes ?? {}).sort()) {
    spec.mounts.push({ destination: posix.resolve('/', volume), type: 'tmpfs', source: 'none', options: [...VOLUME_OPTIONS] })
  }
  const annotations: Record<string, string> = {}
  if (config.os !== undefined) annotations['org.opencontainers.image.os'] = config.os
  if (config.architecture !== undefined) annotations['org.opencontainers.image.architecture'] = config.architecture
  if (image.StopSignal !== undefined) annotations['org.opencontainers.image.stopSignal'] = image.StopSignal
  applySpecOptions(spec, { ...options, annotations: { ...annotations, ...options.annotations } })
  return spec
}
