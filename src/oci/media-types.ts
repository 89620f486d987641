/**
 * OCI media types and their Docker schema 2 equivalents, which appear in the wild
 * (docs/formats.md "Manifests, indexes and configs").
 */
export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'
} as const

export type Compression = 'none' | 'gzip' | 'zstd'

export function isIndexMediaType (mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList
}

export function isManifestMediaType (mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPE.ociManifest || mediaType === MEDIA_TYPE.dockerManifest
}

export function isConfigMediaType (mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPE.ociConfig || mediaType === MEDIA_TYPE.dockerConfig
}

/**
 * How a layer is compressed, from its media type; undefined for media types that are not filesystem layers
 * (those stay opaque blobs).
 */
export function layerCompression (mediaType: string): Compression | undefined {
  switch (mediaType) {
    case MEDIA_TYPE.ociLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
    case 'application/vnd.docker.image.rootfs.diff.tar':
      return 'none'
    case MEDIA_TYPE.ociLayerGzip:
    case MEDIA_TYPE.ociLayerNondistributableGzip:
    case MEDIA_TYPE.dockerLayerGzip:
    case MEDIA_TYPE.dockerLayerForeignGzip:
      return 'gzip'
    case MEDIA_TYPE.ociLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd'
    default:
      return undefined
  }
}
