/**
 * containerd's registry host configuration (docs/registry.md "containerd"): `<config_path>/<registry>/hosts.toml`
 * names the upstream as `server` and the hosts tried before it; containerd asks the mirror first and falls back
 * to the server on a 404 or an error. An existing file is kept as `hosts.toml.bak` (`.bak.1`, ... when taken).
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isErrno } from '../util/errors.ts'
import { pathExists, writeFileAtomic } from '../util/fs.ts'
import { DEFAULT_CONTAINERD_CONFIG_PATH, DEFAULT_MIRROR_URL, DEFAULT_UPSTREAM } from './constants.ts'
import { InvalidHostsConfigError } from './errors.ts'

export interface ContainerdConfigureOptions {
  /** The registry whose pulls go through the mirror. @default docker.io */
  upstream?: string
  /** containerd's `config_path`. @default /etc/containerd/certs.d */
  configPath?: string
  /** @default http://127.0.0.1:7703 */
  mirror?: string
  /** The fallback's URL. @default https://<upstream> (https://registry-1.docker.io for docker.io) */
  server?: string
}

export interface ContainerdConfigureResult {
  path: string
  /** Where the file that was there is kept, if there was one. */
  backup?: string
  content: string
}

const UPSTREAM = /^[a-zA-Z0-9.-]+(?::[0-9]{1,5})?$/

function checkUrl (value: string, what: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidHostsConfigError(`${what} ${JSON.stringify(value)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidHostsConfigError(`${what} ${JSON.stringify(value)} must be http:// or https://`)
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}`
}

/** The hosts.toml text: the mirror for pull and resolve, then the upstream. */
export function hostsToml (upstream: string, server: string, mirror: string): string {
  return [
    '# Written by `emergence containerd configure`: pulls go to the local Emergence node first and fall back',
    `# to ${upstream} for what neither the node nor its peers hold.`,
    `server = ${JSON.stringify(server)}`,
    '',
    `[host.${JSON.stringify(mirror)}]`,
    '  capabilities = ["pull", "resolve"]',
    ''
  ].join('\n')
}

async function backupName (path: string): Promise<string> {
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? `${path}.bak` : `${path}.bak.${i}`
    if (!await pathExists(candidate)) return candidate
  }
}

/** Writes `<configPath>/<upstream>/hosts.toml`, keeping a different file that was there as a backup. */
export async function configureContainerd (options: ContainerdConfigureOptions = {}): Promise<ContainerdConfigureResult> {
  const upstream = options.upstream ?? DEFAULT_UPSTREAM
  if (!UPSTREAM.test(upstream) || upstream.startsWith('.')) throw new InvalidHostsConfigError(`registry host ${JSON.stringify(upstream)} is not host[:port]`)
  const server = checkUrl(options.server ?? `https://${upstream === 'docker.io' ? 'registry-1.docker.io' : upstream}`, 'server')
  const mirror = checkUrl(options.mirror ?? DEFAULT_MIRROR_URL, 'mirror')
  const dir = join(options.configPath ?? DEFAULT_CONTAINERD_CONFIG_PATH, upstream)
  const path = join(dir, 'hosts.toml')
  const content = hostsToml(upstream, server, mirror)
  let existing: string | undefined
  try {
    existing = await readFile(path, 'utf8')
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw new InvalidHostsConfigError(`cannot read ${path}`, err)
  }
  if (existing === content) return { path, content }
  await mkdir(dir, { recursive: true })
  let backup: string | undefined
  if (existing !== undefined) {
    backup = await backupName(path)
    await copyFile(path, backup)
  }
  await writeFileAtomic(path, content)
  return { path, ...(backup !== undefined ? { backup } : {}), content }
}
