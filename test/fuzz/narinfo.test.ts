/**
 * Fuzzing what a node reads about Nix paths from others: narinfo documents (Nix's nar-info.cc format), and the
 * path and closure records peers serve (OCI artifacts, docs/nix.md). Arbitrary text and bytes, and valid
 * documents with lines or fields changed: the parsers may only return a value or throw the Nix module's typed
 * errors, and a valid narinfo survives a format/parse round trip.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as nixErrors from '../../src/nix/errors.ts'
import * as networkErrors from '../../src/nix/network-errors.ts'
import {
  NIX32_ALPHABET, buildClosureRecord, buildPathRecord, formatNarInfo, formatNixHash, narInfoForPath, parseClosureRecord,
  parseNarInfo, parsePathRecord, type PathInfo
} from '../../src/nix/index.ts'
import { FUZZ_TIMEOUT_MS, errorClassesOf, fuzzParameters, succeedsOrTyped } from './fuzz.ts'

const TYPED = errorClassesOf(nixErrors, networkErrors)

const hashPart = fc.string({ unit: fc.constantFrom(...NIX32_ALPHABET), minLength: 32, maxLength: 32 })
const storeName = fc.stringMatching(/^[0-9A-Za-z+._?=-]{1,20}$/).filter(name => !name.startsWith('.'))
const storePath = fc.tuple(hashPart, storeName).map(([hash, name]) => `/nix/store/${hash}-${name}`)

const pathInfo: fc.Arbitrary<PathInfo> = fc.record({
  path: storePath,
  narHash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(formatNixHash),
  narSize: fc.integer({ min: 1, max: 2 ** 40 }),
  references: fc.uniqueArray(storePath, { maxLength: 3 }).map(refs => refs.sort()),
  sigs: fc.array(fc.stringMatching(/^[a-z0-9-]{1,10}:[A-Za-z0-9+/=]{4,20}$/), { maxLength: 2 })
})

test('a narinfo written from any valid path info parses back to it', { timeout: FUZZ_TIMEOUT_MS }, () => {
  fc.assert(fc.property(pathInfo, info => {
    const narinfo = narInfoForPath(info, `nar/${info.narHash.slice('sha256:'.length)}.nar`)
    assert.deepEqual(parseNarInfo(formatNarInfo(narinfo)), narinfo)
  }), fuzzParameters(500))
})

test('the narinfo parser takes arbitrary text, and valid narinfos with lines changed, dropped or added', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const line = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.tuple(fc.constantFrom('StorePath', 'URL', 'Compression', 'NarHash', 'NarSize', 'References', 'Deriver', 'Sig', 'FileSize', 'CA'), fc.string({ maxLength: 60 }))
      .map(([key, value]) => `${key}: ${value}`)
  )
  const edited = fc.tuple(pathInfo, fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'drop', 'add'), line), { maxLength: 3 })).map(([info, edits]) => {
    const lines = formatNarInfo(narInfoForPath(info, 'nar/x.nar')).split('\n')
    for (const [at, kind, text] of edits) {
      const where = at % lines.length
      if (kind === 'replace') lines[where] = text
      else if (kind === 'drop') lines.splice(where, 1)
      else lines.splice(where, 0, text)
    }
    return lines.join('\n')
  })
  await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), edited), async text => {
    await succeedsOrTyped(() => parseNarInfo(text), TYPED)
  }), fuzzParameters(1500))
})

test('path and closure records from peers: arbitrary bytes and changed fields parse or fail typed', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const recordBytes = fc.array(pathInfo, { minLength: 1, maxLength: 3 }).chain(infos => {
    const records = infos.map(buildPathRecord)
    const closure = buildClosureRecord(infos[0]?.path ?? '', records)
    const documents = [...records.map(r => r.bytes), ...(closure !== undefined ? [closure.bytes] : [])]
    return fc.tuple(fc.constantFrom(...documents), fc.nat(), fc.string({ maxLength: 12 }))
      .map(([bytes, at, text]) => {
        // Change one JSON string value of the document: a peer can send any JSON it likes.
        const json = Buffer.from(bytes).toString('utf8')
        const strings = [...json.matchAll(/"((?:[^"\\]|\\.)*)"/g)]
        const target = strings[at % Math.max(1, strings.length)]
        if (target?.index === undefined) return Buffer.from(json)
        return Buffer.from(json.slice(0, target.index) + JSON.stringify(text) + json.slice(target.index + target[0].length))
      })
  })
  const bytes = fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.jsonValue().map(v => Buffer.from(JSON.stringify(v) ?? 'null')), recordBytes)
  await fc.assert(fc.asyncProperty(bytes, async input => {
    await succeedsOrTyped(() => parsePathRecord(input), TYPED)
    await succeedsOrTyped(() => parseClosureRecord(input), TYPED)
  }), fuzzParameters(800))
})
