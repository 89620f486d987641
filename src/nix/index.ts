/**
 * Nix: store paths, NAR archives, narHash, narinfo, signatures, the local Nix store and a binary cache server
 * (specs.md §5). Everything streams with bounded memory; every malformed input ends in a typed error (errors.ts).
 *
 * - `nix32.ts`, `hash.ts`, `store-path.ts`: Nix's base-32, `sha256:<nix32>` hashes, `/nix/store/<hash>-<name>`.
 * - `nar-writer.ts` (`dumpNar`, bytes equal to `nix-store --dump`), `nar-reader.ts` (`parseNar`, refuses hostile
 *   archives), `nar-restore.ts` (`restoreNar`, all or nothing), `nar-hash.ts` (narHash/narSize while streaming).
 * - `narinfo.ts`, `signing.ts`, `key-files.ts`: narinfo documents and ed25519 signatures Nix accepts.
 * - `local-nix.ts`: the local store through Nix's CLI (queries, closures, `--import`, chroot stores via `--store`).
 * - `path-source.ts` + `binary-cache.ts`: an HTTP binary cache over a pluggable PathSource.
 *
 * @example
 * ```ts
 * const nix = new LocalNix()                                   // the system store
 * const closure = await nix.closure([storePath])               // PathInfo[], dependencies first
 * const key = await loadSecretKeyFile('/etc/emergence/cache.sec')
 * const cache = await createBinaryCache({ nix, signingKey: key, port: 0 })
 * // nix copy --from ${cache.url} --to /srv/node2 /nix/store/...  (or set it as a substituter)
 *
 * const node2 = new LocalNix({ storeRoot: '/srv/node2' })      // a second, chroot store
 * await node2.importPaths(closure.map(info => ({ info, nar: () => nix.dumpNar(info.path) })),
 *   { trustedKeys: [key.publicKey] })                          // signatures, narHash and narSize checked
 * await restoreNar(nix.dumpNar(storePath), '/tmp/copy')        // parsed, refused if hostile, all or nothing
 * await cache.close()
 * ```
 */
export * from './errors.ts'
export * from './nix32.ts'
export * from './hash.ts'
export * from './store-path.ts'
export * from './nar-format.ts'
export * from './nar-writer.ts'
export * from './nar-reader.ts'
export * from './nar-restore.ts'
export * from './nar-hash.ts'
export * from './path-info.ts'
export * from './narinfo.ts'
export * from './signing.ts'
export * from './key-files.ts'
export * from './export-format.ts'
export * from './process.ts'
export * from './local-nix.ts'
export * from './path-source.ts'
export * from './binary-cache.ts'
