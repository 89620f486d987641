/**
 * What a build sets in the image config (docs/formats.md "Manifests, indexes and configs"), the build's clock, and
 * the owner of every entry. Values come parsed from the CLI; `applySettings` overlays them on a base config.
 */
import { BuildOptionError } from './errors.ts'

/** Fields of the config's `config` object a build may set; an absent field keeps the base's value. */
export interface ImageSettings {
  entrypoint?: string[]
  cmd?: string[]
  /** `K=V` entries; a key the base has is replaced, others are appended. */
  env?: string[]
  workdir?: string
  user?: string
  labels?: Record<string, string>
}

export interface Owner {
  uid: number
  gid: number
}

export const ROOT_OWNER: Owner = { uid: 0, gid: 0 }

/**
 * The build's fixed time in seconds: `SOURCE_DATE_EPOCH` (reproducible-builds.org) when set, else 0. Every
 * entry's mtime and the config's `created` use it, so a rebuild gives the same bytes.
 */
export function sourceDateEpoch (env: NodeJS.ProcessEnv = process.env): number {
  const value = env.SOURCE_DATE_EPOCH
  if (value === undefined || value === '') return 0
  if (!/^[0-9]+$/.test(value)) throw new BuildOptionError(`SOURCE_DATE_EPOCH must be a number of seconds, not ${JSON.stringify(value)}`)
  return Number(value)
}

/** `uid:gid` (numbers only: names would depend on the building machine's /etc/passwd). */
export function parseOwner (value: string): Owner {
  const match = /^([0-9]+):([0-9]+)$/.exec(value)
  if (match === null) throw new BuildOptionError(`--chown wants numeric uid:gid, not ${JSON.stringify(value)}`)
  return { uid: Number(match[1]), gid: Number(match[2]) }
}

/** `K=V` pairs; `what` names the option in errors. */
export function parsePairs (values: readonly string[], what: string): Array<[string, string]> {
  return values.map(value => {
    const eq = value.indexOf('=')
    if (eq <= 0) throw new BuildOptionError(`${what} wants KEY=VALUE, not ${JSON.stringify(value)}`)
    return [value.slice(0, eq), value.slice(eq + 1)]
  })
}

/** An `--entrypoint`/`--cmd` value: a JSON array of strings, or one string taken as one argument. */
export function parseCommand (value: string, what: string): string[] {
  if (!value.trimStart().startsWith('[')) return [value]
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw new BuildOptionError(`${what} is not a JSON array: ${value}`)
  }
  if (!Array.isArray(parsed) || !parsed.every(a => typeof a === 'string')) throw new BuildOptionError(`${what} must be a JSON array of strings`)
  return parsed as string[]
}

function mergeEnv (base: unknown, added: readonly string[]): string[] {
  const out = Array.isArray(base) ? (base as unknown[]).filter((e): e is string => typeof e === 'string') : []
  for (const [key, value] of parsePairs(added, '--env')) {
    const at = out.findIndex(e => e.startsWith(`${key}=`))
    if (at === -1) out.push(`${key}=${value}`)
    else out[at] = `${key}=${value}`
  }
  return out
}

/** The base's `config` object with `settings` overlaid (a new object; unknown fields of the base are kept). */
export function applySettings (base: Record<string, unknown> | undefined, settings: ImageSettings): Record<string, unknown> {
  const config: Record<string, unknown> = { ...(base ?? {}) }
  if (settings.env !== undefined && settings.env.length > 0) config.Env = mergeEnv(config.Env, settings.env)
  if (settings.entrypoint !== undefined) {
    config.Entrypoint = settings.entrypoint
    // A new entrypoint makes the base's arguments meaningless (as a Dockerfile's ENTRYPOINT does).
    if (settings.cmd === undefined) delete config.Cmd
  }
  if (settings.cmd !== undefined) config.Cmd = settings.cmd
  if (settings.workdir !== undefined) config.WorkingDir = settings.workdir
  if (settings.user !== undefined) config.User = settings.user
  if (settings.labels !== undefined && Object.keys(settings.labels).length > 0) {
    const labels = typeof config.Labels === 'object' && config.Labels !== null ? config.Labels as Record<string, string> : {}
    config.Labels = { ...labels, ...settings.labels }
  }
  return config
}
