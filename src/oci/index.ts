/**
 * OCI data: digests, media types, validated descriptors/manifests/indexes/configs, references, platform
 * selection and a walk over an image's blob graph.
 *
 * @example
 * ```ts
 * const manifest = parseManifest(bytes)          // throws InvalidManifestError on bad input
 * const ref = parseReference('library/busybox:1.36')
 * ```
 */
export * from './digest.ts'
export * from './errors.ts'
export * from './media-types.ts'
export * from './types.ts'
export * from './reference.ts'
export * from './platform.ts'
export * from './walk.ts'
