/**
 * The node's side of sync: how an item is checked, pulled and pinned down, through the store, the puller and
 * the Nix side the daemon already runs. An image is pulled by digest and written under its ref (the
 * publisher's signed document vouches for what the ref names, as a trusted peer's RESOLVE would); a closure is
 * pulled as `emergence nix pull` does. On the publisher, `sync add` takes the digest the store holds, and
 * shares a closure the node has not shared yet, so that peers can pull it. `startNodeSync` wires it all.
 */
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { loadOrCreateIdentity } from '../p2p/node/identity.ts'
import type { P2P } from '../p2p/service.ts'
import type { FetchContext } from '../nix/record-fetch.ts'
import { pullClosure } from '../nix/closure-pull.ts'
import { closureRef, infoRefOfHashPart } from '../nix/path-record.ts'
import { hashPartOf } from '../nix/store-path.ts'
import { sharePaths } from '../nix/share.ts'
import type { Store } from '../store/store.ts'
import type { Digest } from '../oci/digest.ts'
import { describeError, EmergenceError } from '../util/errors.ts'
import type { Logger } from '../util/logger.ts'
import { InvalidPublisherError, InvalidSyncItemError, SyncRefConflictError } from './errors.ts'
import type { ItemRequest, SyncItem } from './item.ts'
import type { SyncFetcher } from './reconciler.ts'
import { SyncService } from './service.ts'
import { WrittenRefs } from './written-refs.ts'

export interface NodeSide {
  store: Store
  p2p: P2P
  nix: FetchContext
  /** The refs sync wrote (written-refs.ts); without it, sync never moves a ref that names something else. */
  written?: WrittenRefs
}

async function refDigest (store: Store, ref: string): Promise<Digest | undefined> {
  try {
    return (await store.resolve(ref)).descriptor.digest
  } catch (err) {
    if (err instanceof EmergenceError) return undefined
    throw err
  }
}

/** Checks and pulls items on this node. */
export function nodeFetcher (side: NodeSide): SyncFetcher {
  return {
    held: async (item, signal) => {
      if (item.kind === 'image') return await refDigest(side.store, item.ref) === item.digest
      return await side.nix.nix.isValid(item.path, { signal })
    },
    pull: async (item, { signal, onProgress }) => {
      if (item.kind === 'image') {
        // Nothing a peer says replaces what the user has: move the ref only if sync wrote what it names.
        const held = await refDigest(side.store, item.ref)
        if (held !== undefined && held !== item.digest && await side.written?.wrote(item.ref, held) !== true) throw new SyncRefConflictError(item.ref, held)
        const name = item.ref.includes('@') ? item.ref.slice(0, item.ref.indexOf('@')) : item.ref.slice(0, item.ref.lastIndexOf(':'))
        await side.written?.record(item.ref, item.digest)
        await side.p2p.pullImage(`${name}@${item.digest}`, { signal, tagAs: item.ref, force: true, onProgress: p => { onProgress(p.bytesDone, p.bytesTotal) } })
        return
      }
      await pullClosure(side.nix, item.path, { signal, onProgress: p => { onProgress(p.bytesDone, p.bytesTotal) } })
    }
  }
}

/** On the publisher: the item `sync add` names, pinned to what this node holds (InvalidSyncItemError if nothing). */
export async function publishableItem (side: NodeSide, request: ItemRequest, signal?: AbortSignal): Promise<SyncItem> {
  if (request.kind === 'image') {
    const digest = await refDigest(side.store, request.ref)
    if (digest === undefined) throw new InvalidSyncItemError(request.ref, 'this node does not hold it: import or pull it here first, so that peers can pull it')
    if (request.digest !== undefined && request.digest !== digest) throw new InvalidSyncItemError(request.ref, `this node holds ${digest} under that name`)
    return { kind: 'image', ref: request.ref, digest }
  }
  if (!await side.nix.nix.isValid(request.path, signal !== undefined ? { signal } : {})) throw new InvalidSyncItemError(request.path, 'not valid in this node\'s Nix store')
  if (await refDigest(side.store, closureRef(request.path)) === undefined) {
    try {
      await sharePaths({ ...side.nix, announce: side.nix.network.blobAdded }, [request.path], signal !== undefined ? { signal } : {})
    } catch (err) {
      throw new InvalidSyncItemError(request.path, `sharing it failed: ${describeError(err)}`, err)
    }
  }
  return { kind: 'nix', path: request.path }
}

/** The digests that keep an item from automatic GC: the image's root, a closure's records. */
export async function itemDigests (store: Store, item: SyncItem): Promise<string[]> {
  if (item.kind === 'image') return [item.digest]
  const refs = [closureRef(item.path), infoRefOfHashPart(hashPartOf(item.path))]
  return (await Promise.all(refs.map(async ref => await refDigest(store, ref)))).filter(d => d !== undefined)
}

export interface NodeSyncInit extends NodeSide {
  dataDir: string
  /** `syncPublishers` as configured; undefined: this node and its trusted peers. */
  publishers: readonly string[] | undefined
  trustedPeers: readonly string[]
  logger?: Logger
}

/**
 * The publishers a node accepts: as configured, else itself and its trusted peers (docs/configuration.md).
 * A configured entry must be a peer id that embeds its key (InvalidPublisherError): documents are checked
 * against that key.
 */
export function syncPublishers (self: string, configured: readonly string[] | undefined, trustedPeers: readonly string[]): string[] {
  for (const entry of configured ?? []) {
    let id
    try {
      id = peerIdFromString(entry)
    } catch (err) {
      throw new InvalidPublisherError(entry, describeError(err))
    }
    if (id.publicKey === undefined) throw new InvalidPublisherError(entry, 'it does not embed its public key')
  }
  return [...new Set(configured ?? [self, ...trustedPeers])]
}

/** Creates and starts the node's sync service over its store, puller and Nix side. */
export async function startNodeSync (init: NodeSyncInit): Promise<SyncService> {
  const self = init.p2p.peerId.toString()
  const sync = await SyncService.create({
    node: init.p2p.node,
    privateKey: await loadOrCreateIdentity(join(init.dataDir, 'p2p')),
    dataDir: init.dataDir,
    publishers: syncPublishers(self, init.publishers, init.trustedPeers),
    fetcher: nodeFetcher({ ...init, written: new WrittenRefs(join(init.dataDir, 'sync', 'written-refs.json')) }),
    publishable: async (request, signal) => await publishableItem(init, request, signal),
    digestsOf: async item => await itemDigests(init.store, item),
    ...(init.logger !== undefined ? { logger: init.logger } : {})
  })
  await sync.start()
  return sync
}
