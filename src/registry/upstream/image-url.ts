/**
 * `docker://[host[:port]/]name[:tag|@digest]` as skopeo and podman write it. No host means Docker Hub, whose API
 * lives at registry-1.docker.io and whose official images are `library/<name>`.
 */
import { parseReference, type ImageReference } from '../../oci/reference.ts'
import { InvalidImageUrlError } from './errors.ts'

export const DOCKER_HUB = 'docker.io'
const DOCKER_HUB_API = 'registry-1.docker.io'

export interface ImageUrl {
  /** The registry as users name it (`docker.io`, `127.0.0.1:5000`). */
  registry: string
  /** Where its API answers. */
  apiHost: string
  /** The repository in the registry (`library/busybox`). */
  repository: string
  tag?: string
  digest?: ImageReference['digest']
  /** The store ref it is kept under by default: `<registry>/<repository>:<tag>` (or `@<digest>`). */
  storeRef: string
}

function isHost (component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost'
}

export function parseImageUrl (url: string): ImageUrl {
  if (!url.startsWith('docker://')) throw new InvalidImageUrlError(url, 'use docker://[host/]name:tag')
  const rest = url.slice('docker://'.length)
  const slash = rest.indexOf('/')
  const hasHost = slash !== -1 && isHost(rest.slice(0, slash))
  const registry = hasHost ? rest.slice(0, slash) : DOCKER_HUB
  let path = hasHost ? rest.slice(slash + 1) : rest
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`
  let parsed: ImageReference
  try {
    parsed = parseReference(path)
  } catch (err) {
    throw new InvalidImageUrlError(url, err instanceof Error ? err.message : String(err))
  }
  const full = `${registry}/${parsed.name}`
  return {
    registry,
    apiHost: registry === DOCKER_HUB ? DOCKER_HUB_API : registry,
    repository: parsed.name,
    ...(parsed.tag !== undefined ? { tag: parsed.tag } : {}),
    ...(parsed.digest !== undefined ? { digest: parsed.digest } : {}),
    storeRef: parsed.tag !== undefined ? `${full}:${parsed.tag}` : `${full}@${parsed.digest ?? ''}`
  }
}
