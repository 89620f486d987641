/**
 * The content-addressed store: an OCI image layout (docs/formats.md "OCI image layout") that skopeo and umoci read
 * directly, with verified streaming writes, partial (resumable) blobs, refs in index.json, pins, leases and GC.
 *
 * @example
 * ```ts
 * const store = await Store.open(storeRoot(defaultDataDir()))
 * await store.blobs.write(digest, createReadStream(file), { size })   // verified while streaming
 * await store.refs.set('library/busybox:1.36', manifestDescriptor)
 * await store.gc()
 * ```
 */
export * from './errors.ts'
export * from './paths.ts'
export * from './blob-store.ts'
export * from './leases.ts'
export * from './partial.ts'
export * from './refs.ts'
export * from './pins.ts'
export * from './gc.ts'
export * from './verify.ts'
export * from './store.ts'
