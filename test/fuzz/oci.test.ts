/**
 * Fuzzing the OCI parsers (docs/formats.md: digests and descriptors, manifests, indexes, configs,
 * references): arbitrary bytes, arbitrary JSON, and valid documents with one field replaced by anything. They
 * may only return a validated value or throw the OCI module's typed errors, and what they return re-parses
 * to the same value.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as ociErrors from '../../src/oci/errors.ts'
import { digestOf, parseDigest } from '../../src/oci/digest.ts'
import { MEDIA_TYPE } from '../../src/oci/media-types.ts'
import { parseReference } from '../../src/oci/reference.ts'
import { parseImageConfig, parseIndex, parseManifest } from '../../src/oci/types.ts'
import { FUZZ_TIMEOUT_MS, errorClassesOf, fuzzParameters, parsedOrTyped, succeedsOrTyped } from './fuzz.ts'

const TYPED = errorClassesOf(ociErrors)
const PARSERS = { manifest: parseManifest, index: parseIndex, config: parseImageConfig }

const descriptor = { mediaType: MEDIA_TYPE.ociLayerGzip, digest: digestOf('layer'), size: 5 }
const VALID: Record<keyof typeof PARSERS, Record<string, unknown>> = {
  manifest: { schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: { ...descriptor, mediaType: MEDIA_TYPE.ociConfig }, layers: [descriptor] },
  index: { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: [{ ...descriptor, mediaType: MEDIA_TYPE.ociManifest, platform: { os: 'linux', architecture: 'amd64' } }] },
  config: { architecture: 'amd64', os: 'linux', config: { Env: ['A=1'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [digestOf('tar')] } }
}

/** Parses `bytes` with `parse`; when it succeeds, the value must survive a JSON round trip through the parser. */
function roundTrips (parse: (bytes: Uint8Array) => unknown, bytes: Uint8Array): void {
  const parsed = parsedOrTyped(() => parse(bytes), TYPED)
  if (parsed !== undefined) assert.deepEqual(parse(Buffer.from(JSON.stringify(parsed.value))), parsed.value)
}

test('manifest, index and config parsers take arbitrary bytes and arbitrary JSON', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const input = fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.jsonValue().map(value => Buffer.from(JSON.stringify(value) ?? 'null')))
  fc.assert(fc.property(fc.constantFrom(...Object.values(PARSERS)), input, (parse, bytes) => { roundTrips(parse, bytes) }), fuzzParameters(1500))
})

test('valid documents with one field (at any depth) replaced by anything parse or fail typed', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const kind = fc.constantFrom(...Object.keys(PARSERS) as Array<keyof typeof PARSERS>)
  fc.assert(fc.property(kind, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.anything(), (which, path, replacement) => {
    const document = structuredClone(VALID[which])
    let node: Record<string, unknown> = document
    for (const [depth, choice] of path.entries()) {
      const keys = Object.keys(node)
      const key = keys[choice % Math.max(1, keys.length)] ?? 'extra'
      if (depth === path.length - 1 || node[key] === null || typeof node[key] !== 'object') {
        node[key] = replacement
        break
      }
      node = node[key] as Record<string, unknown>
    }
    let bytes: Buffer
    try {
      bytes = Buffer.from(JSON.stringify(document) ?? 'null')
    } catch {
      return // not representable as JSON (a BigInt, a cycle): no peer can send it
    }
    roundTrips(PARSERS[which], bytes)
  }), fuzzParameters(1500))
})

test('digest and reference parsers take arbitrary strings', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const text = fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[a-z0-9./:@_-]{0,80}$/), fc.constantFrom(`sha256:${'a'.repeat(64)}`, 'library/busybox:1.36', `x@sha256:${'0'.repeat(64)}`))
  await fc.assert(fc.asyncProperty(text, async value => {
    await succeedsOrTyped(() => parseDigest(value), TYPED)
    await succeedsOrTyped(() => parseReference(value), TYPED)
  }), fuzzParameters(1500))
})
