/**
 * The messages of /emergence/migrate/1.1.0 (docs/protocol.md §11), validated with zod at the edge by the blob
 * protocol's decoder (p2p/protocol/codec.ts decodeMessage): garbage is a typed ProtocolViolationError.
 * Source -> target: OFFER, BASE, SNAPSHOT, COMMIT, ABORT; target -> source: READY, BASE_READY, STARTED, DONE,
 * ERROR; both: PROGRESS.
 */
import { z } from 'zod'
import { isDigest, type Digest } from '../../oci/digest.ts'
import { isStorePath } from '../../nix/store-path.ts'
import { decodeMessage } from '../../p2p/protocol/codec.ts'
import { automatonSpecSchema } from '../spec.ts'
import { MAX_REPORTED_PEERS } from './constants.ts'

const digest = z.string().refine(isDigest, { message: 'invalid digest' }).transform(d => d as Digest)
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const text = z.string().max(1024)
const storePath = z.string().max(512).refine(isStorePath, 'not a store path')

/** What the automaton runs: an image by its root digest (index or manifest), or a Nix store path. */
export const artefactSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('image'), digest }),
  z.object({ kind: z.literal('nix'), path: storePath })
])
export type Artefact = z.infer<typeof artefactSchema>

const byPeer = z.record(z.string().max(128), count).refine(r => Object.keys(r).length <= MAX_REPORTED_PEERS, 'too many peers')

const schemas = {
  OFFER: z.object({ type: z.literal('OFFER'), spec: automatonSpecSchema, artefact: artefactSchema }),
  /** A pre-copy's base snapshot, sent while the automaton still runs. */
  BASE: z.object({ type: z.literal('BASE'), digest, size: count }),
  /** Whether the target pulled and unpacked the base (`applied`), and the bytes it fetched for it. */
  BASE_READY: z.object({ type: z.literal('BASE_READY'), applied: z.boolean(), fetchedBytes: count }),
  /** The state after the stop: the whole state, or with `base` a delta layer over that base. */
  SNAPSHOT: z.object({ type: z.literal('SNAPSHOT'), digest, size: count, base: digest.optional() }),
  COMMIT: z.object({ type: z.literal('COMMIT') }),
  ABORT: z.object({ type: z.literal('ABORT'), reason: text }),
  READY: z.object({ type: z.literal('READY'), fetchedBytes: count, fromPeers: byPeer }),
  /** Milliseconds the target spent pulling the snapshot, restoring it and starting the container. */
  STARTED: z.object({ type: z.literal('STARTED'), fetchedBytes: count, pullMs: count, restoreMs: count, startMs: count }),
  DONE: z.object({ type: z.literal('DONE') }),
  ERROR: z.object({ type: z.literal('ERROR'), code: z.string().max(64), message: text }),
  /** A keep-alive with what the sender is doing; `bytes` so far when it moves bytes. */
  PROGRESS: z.object({ type: z.literal('PROGRESS'), phase: z.string().max(32), bytes: count.optional() })
}

export type MigrateMessage = { [K in keyof typeof schemas]: z.infer<(typeof schemas)[K]> }[keyof typeof schemas]
export type MessageOf<T extends MigrateMessage['type']> = Extract<MigrateMessage, { type: T }>
export type OfferMessage = MessageOf<'OFFER'>

/** Decodes one frame; throws MalformedMessageError or UnknownMessageError (p2p/errors.ts). */
export function decodeMigrate (bytes: Uint8Array): MigrateMessage {
  return decodeMessage<MigrateMessage>(bytes, schemas as unknown as Record<string, z.ZodType<MigrateMessage>>)
}
