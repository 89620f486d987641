/**
 * The layer cache and the containers' overlay views (docs/architecture.md "Layer cache").
 *
 * - `LayerCache.ensure` unpacks each layer of an image once, on its own, into `<data-dir>/runner/layers/<chain
 *   id hex>/` (chain-id.ts), with OCI whiteouts written as overlayfs's (overlay-marks.ts); temp name + rename,
 *   under the cache's lock, so a crash leaves nothing half-visible and two runs never unpack the same layer.
 * - `mountOverlay` / `unmountIfMounted` give a container its writable view: lowerdir = the layers, upperdir and
 *   workdir in its bundle; `overlayUnavailable` says why this host cannot (then the runner copies, rootfs.ts).
 * - `gcLayers` removes the layers no container record and no stored image uses.
 *
 * @example
 * ```ts
 * const { dirs } = await new LayerCache(paths.layers).ensure(store, image)
 * await mountOverlay({ target: `${bundle}/rootfs`, layers: dirs, upper: `${bundle}/upper`, work: `${bundle}/work` }, paths.layers)
 * ```
 *
 * Errors (matched by `name`): OverlayMountError, and the unpacker's (runner/errors.ts).
 */
export { chainIds, chainDirName } from './chain-id.ts'
export { LayerCache, UNPACK_PREFIX, type CachedLayers } from './cache.ts'
export { mountOverlay, unmountIfMounted, isMountPoint, overlayUnavailable, overlayOptions, type OverlayDirs } from './overlay.ts'
export { OverlayMarks, isOverlayWhiteout, OPAQUE_XATTR } from './overlay-marks.ts'
export { gcLayers, type LayerGcOptions, type LayerGcResult } from './gc.ts'
