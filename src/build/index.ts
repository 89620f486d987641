/**
 * Building images into the store (docs/formats.md "Manifests, indexes and configs", "OCI layers"): no daemon, no
 * root, and the same inputs give the same bytes.
 *
 * - `buildImage`: a base (a store ref, a `docker://` registry image imported when missing, or `scratch`) plus one
 *   layer per added directory or tar, config settings overlaid on the base's. The base's layers are referenced
 *   by descriptor, never copied.
 * - `imageFromNix`: a Nix closure as layers under /nix/store, one per store path, grouped past `maxLayers` by
 *   popularity as dockerTools.buildLayeredImage does (nix-layers.ts), optionally on a base as `buildImage` takes
 *   it; layers of shared paths are shared blobs.
 * - `squashImage`: one layer from many, merged from the layers' tar headers with whiteouts applied (merged-tree.ts);
 *   a base to build on again, the same bytes whoever squashes.
 *
 * Contract: every entry is owned by 0:0 (or `chown`) and keeps its mode; entries are sorted; mtimes and
 * `created` are SOURCE_DATE_EPOCH, else 0; gzip (level 6, no name or mtime in the header) or zstd (level 3)
 * with fixed settings; symlinks are stored as links, never followed. Blobs go through the store's verified
 * writes under one transaction lease and the tag is set last: a failed build sets no ref and removes the blobs
 * it added. Errors (by `name`): BuildSourceError, BuildOptionError, UnsupportedEntryError, NoEntrypointError,
 * and the store's and runner's (RefNotFoundError for a missing base).
 *
 * @example
 * ```ts
 * const store = await Store.open(storeRoot(dataDir))
 * await buildImage(store, { from: 'library/busybox:1', add: [await parseAddArgument('./site:/srv')],
 *   settings: { cmd: ['httpd', '-f', '-h', '/srv'] }, tag: 'app/web:1' })
 * await imageFromNix(store, '/nix/store/<h>-hello', { tag: 'nix/hello:1', maxLayers: 50 })
 * await squashImage(store, 'app/web:1', { tag: 'app/web:flat' })
 * ```
 */
export * from './errors.ts'
export { SCRATCH, buildImage, parseAddArgument, loadBase, resolveBase, type AddSource, type BuildOptions } from './build.ts'
export { REGISTRY_PREFIX, isRegistryUrl, registryBase, type RegistryBaseOptions } from './registry-base.ts'
export { imageFromNix, guessEntrypoint, storePathOf, type FromNixOptions } from './from-nix.ts'
export { squashImage, type SquashOptions } from './squash.ts'
export { groupLayers, popularity, DEFAULT_MAX_LAYERS, type ClosureNode } from './nix-layers.ts'
export { buildRef, commitImage, type BuiltImage, type BaseImage, type ImagePlan, type NewLayer } from './image-writer.ts'
export { writeLayer, DEFAULT_COMPRESSION, GZIP_LEVEL, ZSTD_LEVEL, type LayerCompression, type WrittenLayer } from './layer-writer.ts'
export { sourceDateEpoch, parseOwner, parseCommand, parsePairs, applySettings, ROOT_OWNER, type ImageSettings, type Owner } from './settings.ts'
