/**
 * What a migration does with the automaton's artefact on either host: name it in the offer (an image by its
 * root digest, a Nix store path), fetch it on the target from every peer that has it (the puller's swarm: an
 * image pulled by digest needs no trusted peer; a closure as `nix pull` fetches it), and start the automaton
 * (on the target, and on the source again after a rollback).
 */
import type { P2P } from '../../p2p/service.ts'
import { isDigest } from '../../oci/digest.ts'
import { pullClosure, type FetchContext } from '../../nix/index.ts'
import type { Store } from '../../store/store.ts'
import type { Logger } from '../../util/logger.ts'
import { startAutomaton } from '../automata.ts'
import { isNixArtefact, type AutomatonSpec } from '../spec.ts'
import type { Artefact } from './codec.ts'
import type { Prefetched } from './phases.ts'
import { InvalidSpecError } from '../errors.ts'

export interface ArtefactHost {
  describe: (spec: AutomatonSpec) => Promise<Artefact>
  fetch: (spec: AutomatonSpec, artefact: Artefact, options: { signal?: AbortSignal, onBytes?: (bytes: number) => void }) => Promise<Prefetched>
  start: (spec: AutomatonSpec) => Promise<void>
}

export interface NodeArtefactsInit {
  dataDir: string
  store: Store
  p2p: Pick<P2P, 'pullImage'>
  /** The node's Nix side, for closures; without it, Nix automata are refused. */
  nix?: FetchContext
  logger: Logger
}

/** The store path of a Nix artefact (`/nix/store/<hash>-<name>` or a file inside it). */
function storePathOf (spec: AutomatonSpec): string {
  const root = spec.artefact.split('/').slice(0, 4).join('/')
  if (!/^\/nix\/store\/[^/]+$/.test(root)) throw new InvalidSpecError(spec.name, 'artefact', 'is not a Nix store path')
  return root
}

export function nodeArtefacts (init: NodeArtefactsInit): ArtefactHost {
  const nixOf = (): FetchContext => {
    if (init.nix === undefined) throw new InvalidSpecError('migration', 'artefact', 'this node has no Nix store')
    return init.nix
  }
  return {
    describe: async spec => {
      if (isNixArtefact(spec)) return { kind: 'nix', path: storePathOf(spec) }
      const { descriptor } = await init.store.resolve(spec.artefact)
      return { kind: 'image', digest: descriptor.digest }
    },
    fetch: async (spec, artefact, options) => {
      if (artefact.kind === 'nix') {
        const result = await pullClosure(nixOf(), artefact.path, {
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
          onProgress: p => { options.onBytes?.(p.bytesDone) }
        })
        return { fetchedBytes: result.fetchedBytes, fromPeers: result.fromPeers }
      }
      // By digest: no tag to trust. The spec's ref is written too, unless it names other content here
      // (RefExistsError: the target refuses rather than move a ref).
      const result = await init.p2p.pullImage(artefact.digest, {
        ...(isDigest(spec.artefact) ? {} : { tagAs: spec.artefact }),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        onProgress: p => { options.onBytes?.(p.bytesDone) }
      })
      return { fetchedBytes: result.fetchedBytes, fromPeers: result.fromPeers }
    },
    start: async spec => {
      if (!isNixArtefact(spec)) {
        await startAutomaton({ dataDir: init.dataDir, spec, store: init.store, logger: init.logger })
        return
      }
      const nix = nixOf().nix
      const closure = (await nix.closure([storePathOf(spec)])).map(info => info.path)
      await startAutomaton({ dataDir: init.dataDir, spec, closure, hostStoreDir: nix.realStoreDir, logger: init.logger })
    }
  }
}
