import { test } from 'node:test'
import assert from 'node:assert/strict'
import { arch } from 'node:process'
import { formatPlatform, hostPlatform, parsePlatform, platformMatches, selectPlatform } from '../../../src/oci/platform.ts'
import type { Descriptor } from '../../../src/oci/types.ts'

const entry = (c: string, platform?: Descriptor['platform']): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${c.repeat(64)}`,
  size: 1,
  ...(platform !== undefined ? { platform } : {})
})

const entries = [
  entry('0'),
  entry('1', { os: 'linux', architecture: 'amd64' }),
  entry('2', { os: 'linux', architecture: 'arm', variant: 'v6' }),
  entry('3', { os: 'linux', architecture: 'arm', variant: 'v7' }),
  entry('4', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  entry('5', { os: 'windows', architecture: 'amd64' })
]

test('the host platform uses Go architecture names', () => {
  const host = hostPlatform()
  assert.equal(host.os, 'linux')
  if (arch === 'x64') assert.equal(host.architecture, 'amd64')
  if (arch === 'arm64') assert.equal(host.architecture, 'arm64')
  assert.notEqual(host.architecture, 'x64')
})

test('selects the entry for a platform', () => {
  assert.equal(selectPlatform(entries, { os: 'linux', architecture: 'amd64' }).digest, entries[1]?.digest)
  assert.equal(selectPlatform(entries, { os: 'windows', architecture: 'amd64' }).digest, entries[5]?.digest)
  assert.equal(selectPlatform(entries, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest, entries[3]?.digest)
  // No variant wanted: the first entry of that architecture.
  assert.equal(selectPlatform(entries, { os: 'linux', architecture: 'arm' }).digest, entries[2]?.digest)
  // An entry without a variant matches any wanted variant.
  assert.equal(selectPlatform(entries, { os: 'linux', architecture: 'arm64' }).digest, entries[4]?.digest)
})

test('defaults to the host platform', () => {
  const host = hostPlatform()
  const mine = entry('9', host)
  assert.equal(selectPlatform([entry('8', { os: 'plan9', architecture: 'mips' }), mine]).digest, mine.digest)
})

test('throws NoMatchingPlatformError listing what the index has', () => {
  assert.throws(() => selectPlatform(entries, { os: 'linux', architecture: 's390x' }), (err: Error) => {
    assert.equal(err.name, 'NoMatchingPlatformError')
    assert.match(err.message, /linux\/s390x/)
    assert.match(err.message, /linux\/arm\/v7/)
    assert.match(err.message, /windows\/amd64/)
    return true
  })
  assert.throws(() => selectPlatform([entry('0')], { os: 'linux', architecture: 'amd64' }), { name: 'NoMatchingPlatformError' })
  assert.throws(() => selectPlatform([], { os: 'linux', architecture: 'amd64' }), { name: 'NoMatchingPlatformError' })
})

test('matches variants only when both sides name one', () => {
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }), false)
  assert.equal(platformMatches(undefined, { os: 'linux', architecture: 'arm' }), false)
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm' }, { os: 'linux', architecture: 'arm', variant: 'v7' }), true)
})

test('parses and formats os/arch[/variant]', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' })
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' })
  assert.equal(formatPlatform(parsePlatform('linux/arm/v7')), 'linux/arm/v7')
  for (const bad of ['', 'linux', 'linux/', '/amd64']) assert.throws(() => parsePlatform(bad), { name: 'NoMatchingPlatformError' }, bad)
})
