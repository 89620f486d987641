/**
 * Registry credentials: given on the command line, or read from a docker `config.json` (`$DOCKER_CONFIG/
 * config.json`, else `~/.docker/config.json`), whose `auths` map a registry to base64 `user:password` (Docker
 * Hub's key is `https://index.docker.io/v1/`). Credential helpers (`credsStore`) are not run.
 */
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { isErrno } from '../../util/errors.ts'
import { DOCKER_HUB } from './image-url.ts'
import { UpstreamAuthError } from './errors.ts'

export interface Credentials {
  username: string
  password: string
}

const configSchema = z.object({
  auths: z.record(z.string(), z.object({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional() })).optional()
})

function keysFor (registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`]
  if (registry === DOCKER_HUB) keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io')
  return keys
}

export function defaultDockerConfig (env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json')
}

/** The credentials the docker config file holds for `registry`; undefined when it has none (or no file). */
export async function dockerCredentials (registry: string, path = defaultDockerConfig()): Promise<Credentials | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    throw new UpstreamAuthError(registry, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`)
  }
  let parsed
  try {
    parsed = configSchema.parse(JSON.parse(text))
  } catch {
    throw new UpstreamAuthError(registry, `${path} is not a docker config file`)
  }
  for (const key of keysFor(registry)) {
    const entry = parsed.auths?.[key]
    if (entry === undefined) continue
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password }
    if (entry.auth === undefined) continue
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  return undefined
}
