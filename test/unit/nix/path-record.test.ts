/**
 * The formats Nix paths travel in (src/nix/path-record.ts): path records (OCI artifact manifests whose layer is
 * the NAR) and closure records (OCI indexes of embedded path records). Round trips, determinism, and refusal of
 * anything malformed or inconsistent from a peer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  MAX_CLOSURE_RECORD_BYTES, NAR_MEDIA_TYPE, NIX_PATH_ARTIFACT_TYPE, buildClosureRecord, buildPathRecord, checkClosure,
  closureRef, generateSecretKey, infoRef, narDigest, narHashOfDigest, parseClosureRecord, parsePathRecord, signPathInfo,
  sortRecords, type PathInfo, type PathRecord
} from '../../../src/nix/index.ts'
import { childrenOf } from '../../../src/oci/walk.ts'

const ABC_NIX32 = 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s'
const ABC_HEX = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'

const DEP = '/nix/store/37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep'
const TOP = '/nix/store/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top'

function info (path: string, references: string[], extra: Partial<PathInfo> = {}): PathInfo {
  return { path, narHash: ABC_NIX32, narSize: 496, references, sigs: [], ...extra }
}

function json (record: PathRecord): Record<string, unknown> {
  return JSON.parse(Buffer.from(record.bytes).toString()) as Record<string, unknown>
}

function bytesOf (value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value))
}

test('a NAR digest is the narHash: the same sha256 in hex', () => {
  assert.equal(narDigest(ABC_NIX32), ABC_HEX)
  assert.equal(narHashOfDigest(ABC_HEX), ABC_NIX32)
})

test('refs name records by hash part, under nix/', () => {
  assert.equal(infoRef(TOP), 'nix/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67:info')
  assert.equal(closureRef(TOP), 'nix/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67:closure')
})

test('a path record round-trips, is deterministic, and is an OCI artifact manifest whose layer is the NAR', () => {
  const key = generateSecretKey('node-1')
  const source = info(TOP, [TOP, DEP], { deriver: '/nix/store/5cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top.drv', ca: 'fixed:r:sha256:abc' })
  source.sigs = [signPathInfo(source, key), 'other-1:c2ln']
  const record = buildPathRecord(source)
  assert.deepEqual(record.bytes, buildPathRecord({ ...source, references: [DEP, TOP], sigs: [...source.sigs].reverse() }).bytes)
  const parsed = parsePathRecord(record.bytes)
  assert.deepEqual(parsed.info, { ...source, references: [DEP, TOP].sort(), sigs: [...source.sigs].sort() })
  assert.deepEqual(parsed.descriptor, record.descriptor)
  assert.deepEqual(parsed.nar, { digest: ABC_HEX, size: 496 })
  assert.equal(record.descriptor.artifactType, NIX_PATH_ARTIFACT_TYPE)
  // GC and `store verify` walk it like any manifest: the NAR is its child.
  const children = childrenOf(record.descriptor, record.bytes)
  assert.deepEqual(children.map(d => d.mediaType), ['application/vnd.oci.empty.v1+json', NAR_MEDIA_TYPE])
  assert.equal(children[1]?.digest, ABC_HEX)
})

test('malformed path records are refused with RecordError', () => {
  const good = json(buildPathRecord(info(TOP, [DEP])))
  const layers = good.layers as Array<Record<string, unknown>>
  const annotations = good.annotations as Record<string, string>
  const cases: Record<string, unknown> = {
    'not JSON': null,
    'another artifact type': { ...good, artifactType: 'application/x-other' },
    'two layers': { ...good, layers: [...layers, ...layers] },
    'a layer of another type': { ...good, layers: [{ ...layers[0], mediaType: 'application/octet-stream' }] },
    'an empty NAR': { ...good, layers: [{ ...layers[0], size: 0 }] },
    'a non-empty config': { ...good, config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: ABC_HEX, size: 3 } },
    'no store path': { ...good, annotations: { ...annotations, 'org.emergence.nix.store-path': undefined } },
    'a bad store path': { ...good, annotations: { ...annotations, 'org.emergence.nix.store-path': '/nix/store/eeee-x' } },
    'a bad reference': { ...good, annotations: { ...annotations, 'org.emergence.nix.references': '../etc' } },
    'a bad signature': { ...good, annotations: { ...annotations, 'org.emergence.nix.signatures': 'nocolon' } }
  }
  for (const [what, value] of Object.entries(cases)) {
    const bytes = value === null ? Buffer.from('{not json') : bytesOf(value)
    assert.throws(() => parsePathRecord(bytes), { name: 'RecordError' }, what)
  }
  assert.throws(() => parsePathRecord(Buffer.alloc(300 * 1024, 0x20)), { name: 'RecordError' }, 'oversized')
})

test('a closure record embeds its path records, and refuses embedded bytes that fail their digest', () => {
  const records = [buildPathRecord(info(TOP, [DEP, TOP])), buildPathRecord(info(DEP, []))]
  const closure = buildClosureRecord(TOP, records)
  assert.ok(closure !== undefined)
  const parsed = parseClosureRecord(closure.bytes)
  assert.equal(parsed.root, TOP)
  assert.deepEqual(parsed.entries.map(e => e.path), [DEP, TOP])
  assert.deepEqual(parsed.entries.map(e => Buffer.from(e.bytes ?? [])), [DEP, TOP].map(p => Buffer.from(records.find(r => r.info.path === p)?.bytes ?? [])))
  assert.deepEqual(parsed.descriptor, closure.descriptor)

  const index = JSON.parse(Buffer.from(closure.bytes).toString()) as { manifests: Array<Record<string, unknown>> }
  index.manifests[0] = { ...index.manifests[0], data: Buffer.from('{"tampered":true}').toString('base64') }
  assert.throws(() => parseClosureRecord(bytesOf(index)), { name: 'RecordError' })
})

test('a closure record too large to embed lists its records by digest only', () => {
  const records = Array.from({ length: 6000 }, (_, i) => buildPathRecord(info(`/nix/store/${String(i).padStart(32, '0')}-p${i}`, [])))
  const closure = buildClosureRecord(records[0]?.info.path ?? '', records)
  assert.ok(closure !== undefined)
  assert.ok(closure.bytes.byteLength <= MAX_CLOSURE_RECORD_BYTES)
  const parsed = parseClosureRecord(closure.bytes)
  assert.equal(parsed.entries.length, 6000)
  assert.ok(parsed.entries.every(e => e.bytes === undefined))
})

test('checkClosure wants the root and every reference, and orders dependencies first', () => {
  const top = buildPathRecord(info(TOP, [DEP, TOP]))
  const dep = buildPathRecord(info(DEP, []))
  assert.deepEqual(checkClosure(TOP, [top, dep]).map(r => r.info.path), [DEP, TOP])
  assert.deepEqual(sortRecords([top, dep]).map(r => r.info.path), [DEP, TOP])
  assert.throws(() => checkClosure(TOP, [top]), { name: 'RecordError' })
  assert.throws(() => checkClosure(TOP, [dep]), { name: 'RecordError' })
})
