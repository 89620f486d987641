/**
 * The binary cache cannot make the node fork without bound: concurrent narinfo requests run at most
 * `maxProcesses` Nix commands at once. Counted, not timed: every Nix command goes through a wrapper that records
 * how many wrappers are running as it starts and then waits for the test to open a gate, so that while the gate
 * is shut the commands pile up exactly as far as the limit lets them. Each path is asked for twice at once; the
 * two requests share one query.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LocalNix, createBinaryCache, parseNarInfo, type BinaryCache } from '../../../src/nix/index.ts'
import { NIX_ENV, makeTempDir, removeDir, requireNix } from './helpers.ts'
import { buildNetClosure, type NetClosure } from '../nix-p2p/helpers.ts'

const LIMIT = 2
/** Distinct paths asked for (each twice): more than the limit, so that queries must wait for a slot. */
const PATHS = 8

let work: string | undefined
let closure: NetClosure

before(async () => {
  await requireNix()
  work = await makeTempDir()
  closure = await buildNetClosure(work, 'emergence-process-limit', Array.from({ length: PATHS - 1 }, () => 64))
  assert.equal(closure.all.length, PATHS)
})
after(async () => { await removeDir(work) })

/** A wrapper around the real `command` that counts itself in `<dir>/running` and waits for `<dir>/open`. */
async function wrapper (dir: string, command: string): Promise<string> {
  const path = join(dir, `${command}-wrapper`)
  await writeFile(path, `#!/bin/sh
touch "${dir}/running/$$"
ls "${dir}/running" | wc -l >> "${dir}/counts"
# Wait for the gate; more than ${LIMIT} running at once means the limit is broken: go on, the test will fail.
while [ ! -e "${dir}/open" ] && [ "$(ls "${dir}/running" | wc -l)" -le ${LIMIT} ]; do sleep 0.01; done
${command} "$@"
status=$?
rm -f "${dir}/running/$$"
exit $status
`)
  await chmod(path, 0o755)
  return path
}

async function narinfo (url: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

test(`${2 * PATHS} concurrent narinfo requests never run more than ${LIMIT} Nix commands at once`, { timeout: 300_000 }, async () => {
  const dir = join(work ?? '', 'gate')
  await mkdir(join(dir, 'running'), { recursive: true })
  const nix = new LocalNix({
    env: NIX_ENV,
    maxProcesses: LIMIT,
    nixStoreCommand: await wrapper(dir, 'nix-store'),
    nixCommand: await wrapper(dir, 'nix')
  })
  const cache: BinaryCache = await createBinaryCache({ nix })
  const paths = [...closure.all, ...closure.all]
  const answers = Promise.all(paths.map(async path => await narinfo(`${cache.url}/${path.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`)))
  const running = async (): Promise<number> => (await readdir(join(dir, 'running'))).length
  /** How many commands ran at once, as each saw when it started. */
  const counts = async (): Promise<number[]> => (await readFile(join(dir, 'counts'), 'utf8').catch(() => '')).split('\n').filter(l => l !== '').map(Number)
  try {
    // Wait until every path's query runs a command or waits for a slot, or until a command saw the limit broken.
    while (Math.max(0, ...await counts()) <= LIMIT &&
      !(nix.processes.running === LIMIT && nix.processes.queued === PATHS - LIMIT && await running() === LIMIT)) {
      await sleep(10)
    }
    assert.ok(Math.max(...await counts()) <= LIMIT, `at most ${LIMIT} commands at once, saw ${Math.max(...await counts())}`)
    assert.equal(await running(), LIMIT, 'with the gate shut, exactly the limit of commands run')
    await writeFile(join(dir, 'open'), '')
    const results = await answers
    results.forEach((result, i) => {
      assert.equal(result.status, 200)
      assert.equal(parseNarInfo(result.body).path, paths[i])
    })
    const all = await counts()
    assert.ok(all.length >= PATHS, `every path was queried (${all.length} commands)`)
    assert.ok(Math.max(...all) <= LIMIT, `at most ${LIMIT} commands at once, saw ${Math.max(...all)}`)
    assert.deepEqual(nix.processes, { running: 0, queued: 0 })
  } finally {
    await writeFile(join(dir, 'open'), '')
    await answers.catch(() => {})
    await cache.close()
  }
})
