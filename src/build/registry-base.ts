/**
 * A base named by a registry URL, `docker://[host[:port]/]name[:tag|@digest]`: imported with the registry client
 * (registry/upstream, as `emergence image pull docker://...` imports it) when the store does not hold it yet,
 * then built on like any stored image. The store keeps it under `<host>/<name>:<tag>`; a held one is used as is
 * (`image pull --force` moves it to what the registry serves now). The import is all-or-nothing, so a base that
 * cannot be fetched leaves the store as it was.
 */
import { RefNotFoundError } from '../store/errors.ts'
import type { Store } from '../store/store.ts'
import type { Credentials } from '../registry/upstream/credentials.ts'

/** The prefix that makes `--from` a registry URL. */
export const REGISTRY_PREFIX = 'docker://'

export interface RegistryBaseOptions {
  /** Talk plain HTTP to the registry. @default false */
  plainHttp?: boolean
  credentials?: Credentials
  signal?: AbortSignal
  /** Called after each blob of an import with the bytes fetched so far. */
  onProgress?: (progress: { blobsDone: number, blobsTotal: number, bytes: number }) => void
}

export function isRegistryUrl (from: string): boolean {
  return from.startsWith(REGISTRY_PREFIX)
}

/** The store ref of the registry image `url`, imported first when the store lacks it. */
export async function registryBase (store: Store, url: string, options: RegistryBaseOptions = {}): Promise<string> {
  const { parseImageUrl, pullFromRegistry } = await import('../registry/upstream/index.ts')
  const { storeRef } = parseImageUrl(url)
  try {
    await store.resolve(storeRef)
    return storeRef
  } catch (err) {
    if (!(err instanceof RefNotFoundError)) throw err
  }
  const pulled = await pullFromRegistry(store, url, {
    ...(options.plainHttp !== undefined ? { plainHttp: options.plainHttp } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {})
  })
  return pulled.ref
}
