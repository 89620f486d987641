/**
 * `emergence logs` and the exit code in `ps`, through the CLI with the real runc: a detached container's
 * output and exit code outlive it until `rm`; a foreground container has no log; `gc` also reports the layer
 * cache. Every container is removed and every overlay unmounted in `after`.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildBusyboxImage } from '../../../scripts/lib/busybox-image.ts'
import { assertCliError, runCli, type RunResult } from '../../helpers/tools.ts'
import { unmountAllUnder } from './helpers/mounts.ts'

let work = ''
let dataDir = ''

const cli = async (args: string[]): Promise<RunResult> => await runCli(args, { dataDir })

interface Listed { id: string, status: string, exitCode?: number }

async function ps (): Promise<Listed[]> {
  const result = await cli(['--json', 'ps'])
  assert.equal(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as Listed[]
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'runner-cli-logs-'))
  dataDir = join(work, 'data')
  const layout = await buildBusyboxImage(work, { script: 'echo out; echo err >&2; exit 5' })
  const imported = await cli(['image', 'import', `${layout}:1`, '--name', 'test/logs:1'])
  assert.equal(imported.code, 0, imported.stderr)
})

after(async () => {
  const ids = await ps().then(list => list.map(c => c.id), () => [])
  if (ids.length > 0) await cli(['rm', '--force', ...ids])
  await unmountAllUnder(work)
  await rm(work, { recursive: true, force: true })
})

test('logs prints a detached container\'s output after it exited; ps shows its exit code', async () => {
  const started = await cli(['run', '--detach', '--name', 'talker', 'test/logs:1'])
  assert.equal(started.code, 0, started.stderr)
  // The container ends by itself: wait for ps to say so (no time limit but the test's).
  while ((await ps()).find(c => c.id === 'talker')?.status !== 'stopped') await sleep(50)
  assert.equal((await ps()).find(c => c.id === 'talker')?.exitCode, 5)
  const text = await cli(['ps'])
  assert.match(text.stdout, /^ID +TARGET +STATUS +PID +EXIT\n/)
  assert.match(text.stdout, /\ntalker +test\/logs:1 +stopped +5\n/)

  // runc copies the container's stdout and stderr through two pipes: their lines may come in either order.
  const lines = (text: string): string[] => text.split('\n').sort()
  const logs = await cli(['logs', 'talker'])
  assert.equal(logs.code, 0, logs.stderr)
  assert.deepEqual(lines(logs.stdout), lines('out\nerr\n'))
  const followed = await cli(['logs', '--follow', 'talker'])
  assert.deepEqual(lines(followed.stdout), lines('out\nerr\n'))

  assert.equal((await cli(['rm', 'talker'])).code, 0)
  assert.match(assertCliError(await cli(['logs', 'talker'])), /no container "talker"/)
})

test('a foreground container keeps its exit code in ps and has no log', async () => {
  const run = await cli(['run', '--name', 'fore', 'test/logs:1'])
  assert.equal(run.code, 5)
  assert.equal((await ps()).find(c => c.id === 'fore')?.exitCode, 5)
  assert.match(assertCliError(await cli(['logs', 'fore'])), /ran in the foreground/)
  assert.equal((await cli(['rm', 'fore'])).code, 0)
})

test('gc reports the unpacked layers it removed once the image is gone', async () => {
  const run = await cli(['run', '--rm', 'test/logs:1'])
  assert.equal(run.code, 5, run.stderr)
  assert.equal((await cli(['image', 'rm', 'test/logs:1'])).code, 0)
  const gc = await cli(['--json', 'gc', '--grace', '0'])
  assert.equal(gc.code, 0, gc.stderr)
  const result = JSON.parse(gc.stdout) as { layers: { removed: string[], kept: number } }
  assert.equal(result.layers.removed.length, 1)
  assert.equal(result.layers.kept, 0)
})
