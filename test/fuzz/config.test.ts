/**
 * Fuzzing the node's configuration loader: config files of arbitrary text, YAML documents of the known keys with
 * values of any type, and arbitrary environment variables. Loading may only give a configuration or throw
 * InvalidConfigError (the CLI prints it as one line naming the source and key).
 */
import { test } from 'node:test'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { loadConfig, parseListenAddress, parseRate } from '../../src/daemon/config.ts'
import { InvalidConfigError } from '../../src/daemon/errors.ts'
import { FUZZ_TIMEOUT_MS, fuzzParameters, succeedsOrTyped } from './fuzz.ts'

const TYPED = [InvalidConfigError]
const KEYS = ['listen', 'bootstrap', 'allowList', 'trustedPeers', 'mdns', 'uploadLimit', 'downloadLimit', 'nixStore', 'nixCache', 'nixCacheWholeStore', 'nixTrustedKeys']
const ENV = ['EMERGENCE_LISTEN', 'EMERGENCE_BOOTSTRAP', 'EMERGENCE_ALLOW', 'EMERGENCE_MDNS', 'EMERGENCE_NIX_STORE', 'EMERGENCE_NIX_CACHE']

const value = fc.oneof(
  fc.constantFrom('50M', '1.5G', 'off', '127.0.0.1:0', '[::1]:7702', '/ip4/127.0.0.1/tcp/0', true, false, 0, -1, null),
  fc.jsonValue({ maxDepth: 2 })
)
const yamlDocument = fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), value, { maxKeys: 5 })
  .map(document => stringify(document))
const text = fc.oneof(yamlDocument, fc.string({ maxLength: 200 }), fc.constantFrom('', '---', '[]', '- a', 'a: [', '&a [*a]', '!!binary x'))
const env = fc.dictionary(fc.constantFrom(...ENV), fc.string({ maxLength: 30 }), { maxKeys: 3 })

test('loading a config file of any text with any environment gives a config or InvalidConfigError', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fuzz-config-'))
  try {
    await fc.assert(fc.asyncProperty(text, env, async (yaml, variables) => {
      await writeFile(join(dir, 'config.yaml'), yaml)
      await succeedsOrTyped(async () => await loadConfig(dir, { env: variables }), TYPED)
    }), fuzzParameters(600))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('address and rate parsers take arbitrary strings', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 40 }), async input => {
    await succeedsOrTyped(() => parseListenAddress(input), TYPED)
    await succeedsOrTyped(() => parseRate(input), TYPED)
  }), fuzzParameters(2000))
})
