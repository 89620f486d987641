/** The binary cache's exposure setting: off unless the config file turns it on, and validated like every key. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../src/daemon/config.ts'

async function withConfig (yaml: string | undefined, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'config-nix-cache-'))
  try {
    if (yaml !== undefined) await writeFile(join(dir, 'config.yaml'), yaml)
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('the binary cache serves only shared and pulled paths unless nixCacheWholeStore is set', async () => {
  await withConfig(undefined, async dir => {
    assert.equal((await loadConfig(dir, { env: {} })).nixCacheWholeStore, false)
  })
  await withConfig('nixCacheWholeStore: true\n', async dir => {
    assert.equal((await loadConfig(dir, { env: {} })).nixCacheWholeStore, true)
  })
})

test('a nixCacheWholeStore that is not a boolean is refused with the key named', async () => {
  await withConfig('nixCacheWholeStore: "yes please"\n', async dir => {
    await assert.rejects(loadConfig(dir, { env: {} }), (err: Error) => err.name === 'InvalidConfigError' && /nixCacheWholeStore/.test(err.message))
  })
})
