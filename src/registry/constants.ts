/** Defaults of the registry mirror (docs/registry.md). */

/** Loopback only unless told otherwise: the mirror serves whatever this node and its peers hold. */
export const DEFAULT_REGISTRY_ADDRESS = '127.0.0.1:7703'
export const DEFAULT_MIRROR_URL = 'http://127.0.0.1:7703'
/** How long the mirror looks for a peer that holds a blob before it answers 404 (the client's next host). */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 3_000
/** Largest blob fetched from peers whose size no manifest served here gave (peers' size claims are unverified). */
export const DEFAULT_MAX_UNKNOWN_BLOB_BYTES = 16 * 1024 ** 3
/** Blob sizes remembered from manifests served, so that a blob fetch trusts a verified size. */
export const KNOWN_SIZES_LIMIT = 50_000
/** Clients check this header on `/v2/` (docs/registry.md "What it answers"). */
export const API_VERSION_HEADER = { 'docker-distribution-api-version': 'registry/2.0' }
/** Default of `emergence containerd configure`. */
export const DEFAULT_CONTAINERD_CONFIG_PATH = '/etc/containerd/certs.d'
export const DEFAULT_UPSTREAM = 'docker.io'
