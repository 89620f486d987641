/**
 * Pulling from upstream registries: a pull-only distribution API client (anonymous, Basic, or Bearer tokens
 * from the `WWW-Authenticate` challenge; credentials from flags or a docker `config.json`) and the import of an
 * image into the store, verified and all-or-nothing (docs/registry.md).
 *
 * @example
 * ```ts
 * const result = await pullFromRegistry(store, 'docker://127.0.0.1:5000/app/web:1.0', {
 *   plainHttp: true,
 *   credentials: await dockerCredentials('127.0.0.1:5000')
 * })
 * // result.ref === '127.0.0.1:5000/app/web:1.0', every blob verified, the ref written last
 * ```
 */
export * from './errors.ts'
export { parseImageUrl, type ImageUrl } from './image-url.ts'
export { dockerCredentials, defaultDockerConfig, type Credentials } from './credentials.ts'
export { parseChallenge, answerChallenge, type Challenge } from './auth.ts'
export { RegistryClient, MANIFEST_ACCEPT, MAX_RESUMES, type RegistryClientInit, type FetchedManifest } from './client.ts'
export { pullFromRegistry, type RegistryPullOptions, type RegistryPullResult } from './pull.ts'
