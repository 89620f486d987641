/**
 * Where things live. The store root is an OCI image layout (docs/formats.md "OCI image layout"): `oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`. Emergence's own bookkeeping sits in `.emergence/` beside them, where
 * skopeo and umoci do not look: temp files, partial blobs, leases, pins, locks.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts'

/** Environment variable that overrides the data directory (the `--data-dir` flag overrides both). */
export const DATA_DIR_ENV = 'EMERGENCE_DATA_DIR'

/** `$EMERGENCE_DATA_DIR`, else `$XDG_DATA_HOME/emergence`, else `~/.local/share/emergence` (XDG base dir spec). */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[DATA_DIR_ENV]
  if (explicit !== undefined && explicit !== '') return explicit
  const xdg = env.XDG_DATA_HOME
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'emergence')
  return join(homedir(), '.local', 'share', 'emergence')
}

/** The image store lives in `<data-dir>/oci`; other subsystems (nix, runner, keys) get siblings. */
export function storeRoot (dataDir: string): string {
  return join(dataDir, 'oci')
}

export class LayoutPaths {
  readonly layoutFile: string
  readonly indexFile: string
  readonly blobsDir: string
  readonly privateDir: string
  readonly tmpDir: string
  readonly partialDir: string
  readonly leasesDir: string
  readonly quarantineDir: string
  readonly pinsFile: string
  readonly locksDir: string

  readonly root: string

  constructor (root: string) {
    this.root = root
    this.layoutFile = join(root, 'oci-layout')
    this.indexFile = join(root, 'index.json')
    this.blobsDir = join(root, 'blobs')
    this.privateDir = join(root, '.emergence')
    this.tmpDir = join(this.privateDir, 'tmp')
    this.partialDir = join(this.privateDir, 'partial')
    this.leasesDir = join(this.privateDir, 'leases')
    this.quarantineDir = join(this.privateDir, 'quarantine')
    this.pinsFile = join(this.privateDir, 'pins.json')
    this.locksDir = join(this.privateDir, 'locks')
  }

  /** `blobs/<alg>/<hex>`. The digest is validated before it gets here, so it cannot hold `/` or `..`. */
  blob (digest: Digest): string {
    return join(this.blobsDir, digestAlgorithm(digest), digestHex(digest))
  }

  partial (digest: Digest): string {
    return join(this.partialDir, `${digestAlgorithm(digest)}-${digestHex(digest)}`)
  }
}
