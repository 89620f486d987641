/**
 * Nix: store paths, NAR archives, narHash, narinfo, signatures, the local Nix store and a binary cache server
 * (docs/formats.md). Everything streams with bounded memory; every malformed input ends in a typed error (errors.ts).
 *
 * - `nix32.ts`, `hash.ts`, `store-path.ts`: Nix's base-32, `sha256:<nix32>` hashes, `/nix/store/<hash>-<name>`.
 * - `nar-writer.ts` (`dumpNar`, bytes equal to `nix-store --dump`), `nar-reader.ts` (`parseNar`, refuses hostile
 *   archives), `nar-restore.ts` (`restoreNar`, all or nothing), `nar-hash.ts` (narHash/narSize while streaming).
 * - `narinfo.ts`, `signing.ts`, `key-files.ts`: narinfo documents and ed25519 signatures Nix accepts.
 * - `local-nix.ts`: the local store through Nix's CLI (queries, closures, chroot stores via `--store`); imports
 *   through `store-restore.ts` (restored by `restoreNar`, registered with the known hashes) or `--import`.
 * - `path-source.ts` + `binary-cache.ts`: an HTTP binary cache over a pluggable PathSource.
 * - Over the network (docs/nix.md): `path-record.ts` (NARs as blobs named by their narHash, path records and
 *   closure records as OCI artifacts, refs `nix/<hashPart>:info|closure`), `record-store.ts`, `share.ts`
 *   (`sharePaths`), `record-fetch.ts` + `closure-pull.ts` (`pullClosure`), `peer-source.ts` (`PeerPathSource`: the
 *   binary cache answering from peers on demand), `node-key.ts`; the P2P side is the `NixNetwork` contract
 *   (`network.ts`), which the daemon implements over its P2P.
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
 *
 * // Over the network, with ctx = { store, nix, signingKey, trustedKeys, logger, network }:
 * await sharePaths({ ...ctx, announce: d => p2p.blobAdded(d) }, [storePath])   // on the sharing node
 * const pulled = await pullClosure(ctx, storePath, { onProgress })               // on the pulling node
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
export * from './store-restore.ts'
export * from './local-nix.ts'
export * from './path-source.ts'
export * from './binary-cache.ts'
export * from './network-errors.ts'
export * from './network.ts'
export * from './path-record.ts'
export * from './record-store.ts'
export * from './node-key.ts'
export * from './share.ts'
export * from './record-fetch.ts'
export * from './pull-progress.ts'
export * from './closure-pull.ts'
export * from './peer-source.ts'
