/**
 * `emergence automaton` through the CLI with the real runc: a busybox automaton keeps a counter in its state
 * directory and is started again by its restart policy until stopped; ls, logs, stop and rm; a bad spec names
 * its key. Every container is removed and every overlay unmounted in `after`.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildBusyboxImage } from '../../../scripts/lib/busybox-image.ts'
import { assertCliError, runCli, type RunResult } from '../../helpers/tools.ts'
import { unmountAllUnder } from '../runner/helpers/mounts.ts'

let work = ''
let dataDir = ''

const cli = async (args: string[]): Promise<RunResult> => await runCli(args, { dataDir })

interface Listed { spec: { name: string }, status: string, exitCode?: number, stateDir?: string }

async function ls (): Promise<Listed[]> {
  const result = await cli(['--json', 'automaton', 'ls'])
  assert.equal(result.code, 0, result.stderr)
  return JSON.parse(result.stdout) as Listed[]
}

async function one (name: string): Promise<Listed | undefined> {
  return (await ls()).find(a => a.spec.name === name)
}

async function specFile (name: string, text: string): Promise<string> {
  const path = join(work, name)
  await writeFile(path, text)
  return path
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'automaton-cli-'))
  dataDir = join(work, 'data')
  const layout = await buildBusyboxImage(work)
  assert.equal((await cli(['image', 'import', `${layout}:1`, '--name', 'test/automaton:1'])).code, 0)
})

after(async () => {
  const ps = await cli(['--json', 'ps'])
  const ids = ps.code === 0 ? (JSON.parse(ps.stdout) as Array<{ id: string }>).map(c => c.id) : []
  for (const id of ids) await cli(['stop', '--timeout', '1', id])
  if (ids.length > 0) await cli(['rm', '--force', ...ids])
  await unmountAllUnder(work)
  await rm(work, { recursive: true, force: true })
})

test('a counter in the state directory survives restarts by policy; stop, logs, rm', async () => {
  const script = 'n=$(cat /state/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/n; echo run $n; exit 1'
  const spec = await specFile('counter.yaml', [
    'name: counter',
    'artefact: test/automaton:1',
    'process:',
    `  args: [/bin/sh, -c, ${JSON.stringify(script)}]`,
    'state: /state',
    'restart: on-failure'
  ].join('\n'))
  const started = await cli(['automaton', 'start', spec])
  assert.equal(started.code, 0, started.stderr)
  assert.equal(started.stdout, 'started counter\n')
  const listed = await one('counter')
  const stateFile = join(listed?.stateDir ?? '', 'n')
  assert.equal(listed?.stateDir, join(dataDir, 'automata', 'counter', 'state'))
  // Each run exits 1 and is started again: wait for the third run, then stop it.
  while (Number((await readFile(stateFile, 'utf8').catch(() => '0')).trim()) < 3) await sleep(100)
  // The script's shell ignores SIGTERM as the container's init: a short timeout goes on to SIGKILL.
  assert.equal((await cli(['automaton', 'stop', '--timeout', '1', 'counter'])).code, 0)
  while ((await one('counter'))?.status !== 'stopped') await sleep(50)
  const count = Number((await readFile(stateFile, 'utf8')).trim())
  // 1 from the script, or 137 when the stop came while a run was under way (SIGKILL after the timeout).
  assert.ok([1, 137].includes((await one('counter'))?.exitCode ?? -1))
  const logs = await cli(['automaton', 'logs', 'counter'])
  assert.equal(logs.code, 0, logs.stderr)
  assert.equal(logs.stdout, Array.from({ length: count }, (_, i) => `run ${i + 1}\n`).join(''))

  const text = await cli(['automaton', 'ls'])
  assert.match(text.stdout, /^NAME +ARTEFACT +STATUS +EXIT +RESTART +STATE\ncounter +test\/automaton:1 +stopped +(1|137) +on-failure +\//)
  assert.equal((await cli(['automaton', 'rm', 'counter'])).code, 0)
  await assert.rejects(access(join(dataDir, 'automata', 'counter')), { code: 'ENOENT' })
  assert.equal(await one('counter'), undefined)
  assert.match(assertCliError(await cli(['automaton', 'logs', 'counter'])), /no automaton "counter"/)
})

test('a running automaton is listed, refuses a second start, stops', async () => {
  const spec = await specFile('sleeper.json', JSON.stringify({ name: 'sleeper', artefact: 'test/automaton:1', process: { args: ['/bin/sh', '-c', 'trap "exit 0" TERM; echo up; sleep 60 & wait'] } }))
  assert.equal((await cli(['automaton', 'start', spec])).code, 0)
  assert.equal((await one('sleeper'))?.status, 'running')
  assert.match(assertCliError(await cli(['automaton', 'start', spec])), /automaton "sleeper" is running/)
  assert.equal((await cli(['automaton', 'stop', 'sleeper'])).code, 0)
  assert.equal((await one('sleeper'))?.status, 'stopped')
  assert.equal((await one('sleeper'))?.exitCode, 0)
  assert.equal((await cli(['automaton', 'rm', 'sleeper'])).code, 0)
})

test('a bad spec fails with one line naming the key', async () => {
  const spec = await specFile('bad.yaml', 'name: bad\nartefact: test/automaton:1\nproces: {}\n')
  assert.match(assertCliError(await cli(['automaton', 'start', spec])), /bad\.yaml: proces: unknown key/)
  assert.equal(await one('bad'), undefined)
})
