import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { configureContainerd } from '../../../src/registry/containerd.ts'
import { tempDir } from '../../helpers/temp.ts'

test('containerd configure writes hosts.toml: the mirror for pull and resolve, the upstream as server', async t => {
  const dir = await tempDir(t)
  const result = await configureContainerd({ configPath: dir })
  assert.equal(result.path, join(dir, 'docker.io', 'hosts.toml'))
  assert.equal(result.backup, undefined)
  const text = await readFile(result.path, 'utf8')
  assert.match(text, /^server = "https:\/\/registry-1\.docker\.io"$/m)
  assert.match(text, /^\[host\."http:\/\/127\.0\.0\.1:7703"\]\n {2}capabilities = \["pull", "resolve"\]$/m)
  // The same content again: nothing to back up.
  assert.equal((await configureContainerd({ configPath: dir })).backup, undefined)
  assert.deepEqual(await readdir(join(dir, 'docker.io')), ['hosts.toml'])
})

test('containerd configure keeps an existing file as a backup, numbered when one is there', async t => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'registry.example:5000'))
  const path = join(dir, 'registry.example:5000', 'hosts.toml')
  await writeFile(path, 'server = "https://old"\n')
  const first = await configureContainerd({ configPath: dir, upstream: 'registry.example:5000', mirror: 'http://127.0.0.1:9999/' })
  assert.equal(first.backup, `${path}.bak`)
  assert.equal(await readFile(`${path}.bak`, 'utf8'), 'server = "https://old"\n')
  assert.match(await readFile(path, 'utf8'), /^server = "https:\/\/registry\.example:5000"$/m)
  assert.match(await readFile(path, 'utf8'), /^\[host\."http:\/\/127\.0\.0\.1:9999"\]$/m)
  const second = await configureContainerd({ configPath: dir, upstream: 'registry.example:5000', server: 'http://127.0.0.1:5000' })
  assert.equal(second.backup, `${path}.bak.1`)
  assert.match(await readFile(path, 'utf8'), /^server = "http:\/\/127\.0\.0\.1:5000"$/m)
})

test('containerd configure refuses a bad host or URL', async t => {
  const dir = await tempDir(t)
  await assert.rejects(configureContainerd({ configPath: dir, upstream: '../etc' }), { name: 'InvalidHostsConfigError' })
  await assert.rejects(configureContainerd({ configPath: dir, mirror: 'ftp://x' }), { name: 'InvalidHostsConfigError' })
  await assert.rejects(configureContainerd({ configPath: dir, server: 'not a url' }), { name: 'InvalidHostsConfigError' })
  assert.deepEqual(await readdir(dir), [])
})
