import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatNarInfo, narInfoFileName, narInfoForPath, parseNarInfo } from '../../../src/nix/index.ts'
import type { PathInfo } from '../../../src/nix/index.ts'

const A = '/nix/store/3cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top'
const B = '/nix/store/37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep'
const D = '/nix/store/gbbbr34xd23i6hplq5s2hzx5bgzh7i9r-top.drv'
const NAR_HASH = 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s'
const FILE_HASH = 'sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw'

const CANONICAL = [
  `StorePath: ${A}`,
  'URL: nar/04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw.nar.xz',
  'Compression: xz',
  `FileHash: ${FILE_HASH}`,
  'FileSize: 4242',
  `NarHash: ${NAR_HASH}`,
  'NarSize: 496',
  'References: 37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep 3cqrw6r0j8skpzwa5fhgjwx5jwrgai67-top',
  'Deriver: gbbbr34xd23i6hplq5s2hzx5bgzh7i9r-top.drv',
  'Sig: cache.example.org-1:c2lnbmF0dXJlMQ==',
  'Sig: other-1:c2lnbmF0dXJlMg==',
  'CA: fixed:r:sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s',
  ''
].join('\n')

test('parses every field, with full store paths', () => {
  const info = parseNarInfo(CANONICAL)
  assert.equal(info.path, A)
  assert.equal(info.url, 'nar/04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw.nar.xz')
  assert.equal(info.compression, 'xz')
  assert.equal(info.fileHash, FILE_HASH)
  assert.equal(info.fileSize, 4242)
  assert.equal(info.narHash, NAR_HASH)
  assert.equal(info.narSize, 496)
  assert.deepEqual(info.references, [B, A])
  assert.equal(info.deriver, D)
  assert.deepEqual(info.sigs, ['cache.example.org-1:c2lnbmF0dXJlMQ==', 'other-1:c2lnbmF0dXJlMg=='])
  assert.equal(info.ca, 'fixed:r:sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s')
})

test('format(parse(x)) reproduces a canonical narinfo byte for byte', () => {
  assert.equal(formatNarInfo(parseNarInfo(CANONICAL)), CANONICAL)
})

test('minimal narinfo: Compression defaults to bzip2, empty References, unknown keys skipped, no final newline', () => {
  const info = parseNarInfo(`StorePath: ${B}\nURL: nar/x.nar.bz2\nNarHash: ${NAR_HASH}\nNarSize: 8\nReferences: \nSystem: x86_64-linux\nDeriver: unknown-deriver`)
  assert.equal(info.compression, 'bzip2')
  assert.deepEqual(info.references, [])
  assert.equal(info.deriver, undefined)
  assert.deepEqual(info.sigs, [])
})

test('NarHash in base16 or SRI form is normalised to nix32', () => {
  const hex = '0'.repeat(64)
  const info = parseNarInfo(`StorePath: ${B}\nURL: nar/x.nar\nNarHash: sha256:${hex}\nNarSize: 8\n`)
  assert.equal(info.narHash, `sha256:${'0'.repeat(52)}`)
})

test('narInfoForPath describes an uncompressed NAR; the file name is <hashPart>.narinfo', () => {
  const info: PathInfo = { path: A, narHash: NAR_HASH, narSize: 496, references: [B], deriver: D, sigs: [] }
  const text = formatNarInfo(narInfoForPath(info, 'nar/abc.nar'))
  assert.match(text, /^Compression: none$/m)
  assert.match(text, new RegExp(`^FileHash: ${NAR_HASH}$`, 'm'))
  assert.match(text, /^FileSize: 496$/m)
  assert.match(text, /^References: 37c5pcc9r45zw7v18cm8dhs7kpva37sl-dep$/m)
  assert.deepEqual(parseNarInfo(text).references, [B])
  assert.equal(narInfoFileName(A), '3cqrw6r0j8skpzwa5fhgjwx5jwrgai67.narinfo')
})

const without = (key: string): string => CANONICAL.split('\n').filter(l => !l.startsWith(`${key}:`)).join('\n')
const replace = (key: string, value: string): string => CANONICAL.split('\n').map(l => l.startsWith(`${key}:`) ? `${key}: ${value}` : l).join('\n')

const bad: Array<[string, string]> = [
  ['no StorePath', without('StorePath')],
  ['no URL', without('URL')],
  ['no NarHash', without('NarHash')],
  ['no NarSize', without('NarSize')],
  ['NarSize 0', replace('NarSize', '0')],
  ['NarSize not a number', replace('NarSize', '12abc')],
  ['negative FileSize', replace('FileSize', '-1')],
  ['bad StorePath', replace('StorePath', '/nix/store/short-x')],
  ['bad reference', replace('References', 'not-a-store-path')],
  ['bad deriver', replace('Deriver', '/nix/store/x')],
  ['bad NarHash', replace('NarHash', 'sha256:nothash')],
  ['md5 FileHash', replace('FileHash', 'md5:0000')],
  ['Sig without key name', replace('Sig', 'c2lnbmF0dXJl')],
  ['repeated StorePath', `StorePath: ${B}\n` + CANONICAL],
  ['line without colon', CANONICAL + 'garbage\n'],
  ['empty line', CANONICAL + '\n'],
  ['empty document', '']
]

for (const [why, text] of bad) {
  test(`rejects a narinfo: ${why}`, () => {
    assert.throws(() => parseNarInfo(text), { name: 'NarInfoError' })
  })
}
