/**
 * The CLI against a real store in a temp data directory, with images built by umoci: import, ls, inspect,
 * export, pin, rm, gc and store verify, in text and `--json`. The tests run in order on one data directory.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseDigest } from '../../../src/oci/digest.ts'
import { assertCliError, runCli, tool, type RunResult } from '../../helpers/tools.ts'
import { fileFixture, tempDir } from '../../helpers/temp.ts'
import { buildUmociFixture, layoutImageDigests } from '../../helpers/umoci.ts'
import { snapshotLines, snapshotTree } from '../../helpers/snapshot.ts'

const setup = fileFixture(async work => ({ fixture: await buildUmociFixture(join(work, 'fixture')), dataDir: join(work, 'data') }))

async function cli (args: string[]): Promise<RunResult> {
  const { dataDir } = await setup()
  return await runCli(args, { dataDir })
}

/** Runs with --json, expects success, returns the parsed stdout. */
async function json<T> (args: string[]): Promise<T> {
  const result = await cli(['--json', ...args])
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

interface Summary { ref: string, digest: string, size: number, pinned: boolean }

test('image import from <dir>:<ref>, text and --json', async () => {
  const { fixture } = await setup()
  const text = await cli(['image', 'import', `${fixture.layout}:app`, '--name', 'team/app:1'])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /^imported team\/app:1 sha256:[a-f0-9]{64} \(5 blobs, 5 new, /)
  const imported = await json<Array<{ ref: string, blobs: number, newBlobs: number }>>(['image', 'import', `${fixture.layout}:base`])
  assert.deepEqual(imported.map(i => [i.ref, i.blobs, i.newBlobs]), [['layout:base', 4, 2]])
})

test('image ls and inspect', async () => {
  const { fixture } = await setup()
  const ls = await cli(['image', 'ls'])
  assert.equal(ls.code, 0)
  assert.match(ls.stdout, /^REF +DIGEST +SIZE +PINNED\n/)
  assert.match(ls.stdout, /\nlayout:base +sha256:[a-f0-9]{12} /)
  assert.match(ls.stdout, /\nteam\/app:1 +sha256:[a-f0-9]{12} /)
  const images = await json<Summary[]>(['image', 'ls'])
  assert.deepEqual(images.map(i => [i.ref, i.pinned]), [['layout:base', false], ['team/app:1', false]])
  const details = await json<{ ref: string, digest: string, config: { config: { WorkingDir: string, Env: string[] } }, layers: unknown[] }>(['image', 'inspect', 'team/app:1'])
  assert.equal(details.ref, 'team/app:1')
  assert.equal(details.config.config.WorkingDir, '/srv')
  assert.ok(details.config.config.Env.includes('GREETING=hello'))
  assert.equal(details.layers.length, 3)
  assert.ok((await layoutImageDigests(fixture.layout, 'app')).has(parseDigest(details.digest)))
  const byDigest = await json<{ ref: string }>(['image', 'inspect', details.digest])
  assert.equal(byDigest.ref, details.digest)
})

test('image export writes a layout umoci reads', async (t) => {
  const out = join(await tempDir(t), 'exported')
  const result = await json<{ ref: string, dir: string, blobs: number }>(['image', 'export', 'team/app:1', out, '--as', 'v1'])
  assert.deepEqual([result.ref, result.dir, result.blobs], ['v1', out, 5])
  assert.equal((await tool('umoci', ['ls', '--layout', out])).trim(), 'v1')
  const text = await cli(['image', 'export', 'layout:base', out])
  assert.equal(text.code, 0, text.stderr)
  assert.deepEqual((await tool('umoci', ['ls', '--layout', out])).trim().split('\n').sort(), ['layout:base', 'v1'])
})

test('store path points at the OCI layout under the data directory', async () => {
  const { dataDir } = await setup()
  assert.deepEqual(await json(['store', 'path']), { path: join(dataDir, 'oci') })
  const text = await cli(['store', 'path'])
  assert.equal(text.stdout, join(dataDir, 'oci') + '\n')
})

test('EMERGENCE_DATA_DIR selects the store when --data-dir is absent', async () => {
  const { dataDir } = await setup()
  const result = await runCli(['--json', 'image', 'ls'], { env: { EMERGENCE_DATA_DIR: dataDir } })
  assert.equal(result.code, 0, result.stderr)
  assert.equal((JSON.parse(result.stdout) as Summary[]).length, 2)
})

test('pin keeps an image through rm and gc; unpin lets gc take it', async () => {
  const { dataDir, fixture } = await setup()
  const blobs = async (): Promise<string[]> => (await readdir(join(dataDir, 'oci', 'blobs', 'sha256'))).sort()
  const pinned = await json<{ pinned: string, ref: string }>(['image', 'pin', 'team/app:1'])
  assert.equal(pinned.ref, 'team/app:1')
  assert.ok((await json<Summary[]>(['image', 'ls'])).find(i => i.ref === 'team/app:1')?.pinned)

  assert.deepEqual(await json(['image', 'rm', 'team/app:1']), { removed: ['team/app:1'] })
  assert.deepEqual((await json<Summary[]>(['image', 'ls'])).map(i => i.ref), ['layout:base'])
  const before = await blobs()
  const kept = await json<{ removed: unknown[], kept: number }>(['gc', '--grace', '0'])
  assert.deepEqual(kept.removed, [])
  assert.deepEqual(await blobs(), before)

  assert.deepEqual(await json(['image', 'unpin', pinned.pinned]), { unpinned: pinned.pinned })
  const dry = await json<{ removed: Array<{ digest: string }> }>(['gc', '--grace', '0', '--dry-run'])
  assert.deepEqual(await blobs(), before)
  const gc = await json<{ removed: Array<{ digest: string }>, freedBytes: number }>(['gc', '--grace', '0'])
  const base = await layoutImageDigests(fixture.layout, 'base')
  const appOnly = [...await layoutImageDigests(fixture.layout, 'app')].filter(d => !base.has(d)).sort()
  assert.deepEqual(gc.removed.map(r => r.digest).sort(), appOnly)
  assert.deepEqual(dry.removed.map(r => r.digest).sort(), appOnly)
  assert.deepEqual(await blobs(), [...base].map(d => d.slice(7)).sort())
  const text = await cli(['gc'])
  assert.match(text.stdout, /^removed 0 blobs \(0 B\), kept 4\n$/)
})

test('errors: one line on stderr, non-zero exit, a JSON error object with --json, the store untouched', async () => {
  const { dataDir, fixture } = await setup()
  const root = join(dataDir, 'oci')
  const before = snapshotLines(await snapshotTree(root))
  assert.match(assertCliError(await cli(['image', 'inspect', 'nope:1'])), /no image nope:1/)
  const asJson = await cli(['--json', 'image', 'inspect', 'nope:1'])
  assertCliError(asJson)
  assert.deepEqual(JSON.parse(asJson.stdout), { error: { code: 'MANIFEST_UNKNOWN', message: 'no image nope:1 in the store' } })
  assertCliError(await cli(['image', 'rm', 'nope:1']))
  // rm takes tags: a digest is refused, and one bad argument removes nothing.
  const [base] = await json<Summary[]>(['image', 'ls'])
  assert.match(assertCliError(await cli(['image', 'rm', base?.digest ?? ''])), /no image sha256:/)
  assert.match(assertCliError(await cli(['image', 'rm', 'layout:base', 'nope:1'])), /nope:1/)
  assertCliError(await cli(['image', 'export', 'nope:1', join(dataDir, 'never')]))
  assert.match(assertCliError(await cli(['image', 'import', `${fixture.layout}:app`, '--name', 'Bad:Name'])), /invalid reference/)
  assert.match(assertCliError(await cli(['image', 'import', `${fixture.layout}:nope`])), /no image tagged "nope"/)
  assertCliError(await cli(['image', 'import', '--archive', join(dataDir, 'absent.tar')]))
  assertCliError(await cli(['image', 'import', join(dataDir, 'absent-dir')]))
  assert.deepEqual(snapshotLines(await snapshotTree(root)), before)
})

test('store verify: clean, then a corrupted blob fails it, and --quarantine moves the blob out', async () => {
  const { dataDir } = await setup()
  const root = join(dataDir, 'oci')
  const clean = await cli(['store', 'verify'])
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stdout, /^checked 4 blobs/)
  const report = await json<{ checked: number, corrupt: unknown[] }>(['store', 'verify'])
  assert.deepEqual([report.checked, report.corrupt], [4, []])

  const details = await json<{ layers: Array<{ digest: string }> }>(['image', 'inspect', 'layout:base'])
  const victim = details.layers[0]?.digest ?? assert.fail()
  const file = join(root, 'blobs', 'sha256', victim.slice(7))
  const bytes = await readFile(file)
  bytes[0] = (bytes[0] ?? 0) ^ 0xff
  await writeFile(file, bytes)

  const corrupt = await cli(['store', 'verify'])
  assert.match(assertCliError(corrupt), /1 corrupt/)
  assert.match(corrupt.stdout, new RegExp(`corrupt ${victim}`))
  // With --json, stdout holds the report and then the error object, on its own last line.
  const asJson = await cli(['--json', 'store', 'verify'])
  assertCliError(asJson)
  const lines = asJson.stdout.trim().split('\n')
  assert.deepEqual(JSON.parse(lines.at(-1) ?? ''), { error: { code: 'STORE_CORRUPT', message: 'store verify found 1 corrupt and 0 missing blobs' } })
  const verifyReport = JSON.parse(lines.slice(0, -1).join('\n')) as { corrupt: Array<{ digest: string }> }
  assert.deepEqual(verifyReport.corrupt.map(c => c.digest), [victim])

  const quarantined = await cli(['store', 'verify', '--quarantine'])
  assertCliError(quarantined)
  assert.match(quarantined.stdout, /quarantined/)
  assert.deepEqual(await readdir(join(root, '.emergence', 'quarantine')), [`sha256-${victim.slice(7)}`])
  assert.equal((await readdir(join(root, 'blobs', 'sha256'))).includes(victim.slice(7)), false)
  // The image now lacks that blob: verify keeps failing, and says it is missing.
  const missing = await cli(['store', 'verify'])
  assert.match(assertCliError(missing), /0 corrupt and 1 missing/)
  assert.match(missing.stdout, new RegExp(`missing ${victim}`))
})
