/**
 * What the automatic GC must never evict (docs/operations.md "Automatic GC"): the images of every container on
 * this host (running or not: `ps` lists it, `run` may start it again), the artefact of every automaton defined
 * here (running or stopped), and whatever the daemon's hook names (the cluster's desired set). Pins are kept
 * by the blob GC itself and by the policy's `retained` set.
 */
import { readdir } from 'node:fs/promises'
import { AutomatonPaths, loadAutomaton } from '../automaton/automata.ts'
import { closureRef, infoRefOfHashPart } from '../nix/path-record.ts'
import { hashPartOf } from '../nix/store-path.ts'
import type { Store } from '../store/store.ts'
import { ContainerRecords, RunnerPaths } from '../runner/containers.ts'
import { EmergenceError } from '../util/errors.ts'

/** Digests (image roots or manifests) that must stay, as the daemon's hook gives them. */
export type ProtectedDigests = () => Promise<Set<string>>

export interface Protection {
  /** Root, manifest or index digests. */
  digests: Set<string>
  /** Refs (`name:tag`, `nix/<hash>:info`). */
  refs: Set<string>
}

/** `/nix/store/<hash>-name/bin/x` -> `/nix/store/<hash>-name`. */
function storePathRoot (path: string): string {
  return path.split('/').slice(0, 4).join('/')
}

/** The specs of every automaton defined here, running or not (a spec that no longer parses protects nothing). */
async function automatonArtefacts (dataDir: string): Promise<string[]> {
  const names = await readdir(new AutomatonPaths(dataDir).root).catch(() => [] as string[])
  const artefacts: string[] = []
  for (const name of names) {
    const spec = await loadAutomaton(dataDir, name).catch(() => undefined)
    if (spec !== undefined) artefacts.push(spec.artefact)
  }
  return artefacts
}

async function automatonProtection (dataDir: string, store: Store, into: Protection): Promise<void> {
  for (const artefact of await automatonArtefacts(dataDir)) {
    try {
      if (artefact.startsWith('/nix/store/')) {
        const root = storePathRoot(artefact)
        into.refs.add(infoRefOfHashPart(hashPartOf(root)))
        into.refs.add(closureRef(root))
        continue
      }
      const resolved = await store.resolve(artefact)
      into.refs.add(resolved.ref)
      into.digests.add(resolved.descriptor.digest)
    } catch (err) {
      // An automaton whose image is not here (yet) protects nothing; nor does one whose artefact does not parse.
      if (!(err instanceof EmergenceError)) throw err
    }
  }
}

/** Everything the containers, the automata and the hook of this node need. */
export async function gatherProtection (dataDir: string, store: Store, hook?: ProtectedDigests): Promise<Protection> {
  const protection: Protection = { digests: new Set(), refs: new Set() }
  for (const record of await new ContainerRecords(new RunnerPaths(dataDir).containers).list()) {
    if (record.digest !== undefined) protection.digests.add(record.digest)
    if (record.kind === 'image') protection.refs.add(record.image)
  }
  await automatonProtection(dataDir, store, protection)
  for (const digest of await hook?.() ?? []) protection.digests.add(digest)
  return protection
}
