/**
 * Registries: the node's OCI pull mirror (distribution-spec, pull side) and containerd's host configuration
 * pointing at it (docs/registry.md).
 *
 * The mirror answers `GET|HEAD /v2/`, `/v2/<name>/manifests/<tag|digest>`, `/v2/<name>/blobs/<digest>` (with
 * `Range`) and `GET /v2/<name>/tags/list`, read-only, every error as the OCI error JSON. Tags are the store's
 * refs `name:tag`, else what the node's trusted peers agree on; manifests and blobs by digest come from the store,
 * else from any peer that holds them: fetched, verified against the digest and committed; a blob being pulled
 * from peers streams to the client as its pieces are verified (growing.ts). What no peer holds is a 404 within
 * the lookup time, so that a client falls back to its next registry host, unless the node pulls through from
 * that host (`upstreams`): then the mirror fetches it from the registry, verified, and announces it, so the next
 * node gets it from a peer.
 *
 * @example
 * ```ts
 * const mirror = await createNodeMirror(store, p2p, { host: '127.0.0.1', port: 7703 })
 * // skopeo copy --src-tls-verify=false docker://127.0.0.1:7703/app/web:1.0 oci:./out:1.0
 * await configureContainerd({ upstream: 'docker.io', mirror: mirror.url })   // certs.d/docker.io/hosts.toml
 * await mirror.close()
 * ```
 */
export * from './constants.ts'
export * from './errors.ts'
export { createRegistryMirror, createNodeMirror, type RegistryMirror, type RegistryMirrorComponents, type RegistryMirrorInit } from './server.ts'
export { p2pFetcher, chainFetchers, type PeerFetcher, type BlobFetchOptions, type TagResolveOptions, type Origin, type P2PFetcherInit } from './fetcher.ts'
export { upstreamFetcher, type UpstreamFetcherInit } from './upstream-fetcher.ts'
export { parseUpstream, type Upstream } from './upstream-address.ts'
export { MirrorContent } from './content.ts'
export { pullThrough, upstreamOf, type PullThrough, type PullThroughInit } from './pull-through.ts'
export { partialBlobs, type GrowingBlobs, type GrowingPrefix } from './growing.ts'
export { configureContainerd, hostsToml, type ContainerdConfigureOptions, type ContainerdConfigureResult } from './containerd.ts'
