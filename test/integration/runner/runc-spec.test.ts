/** The baseline config.json we build in code is what `runc spec` writes, apart from `terminal: false`. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultSpec } from '../../../src/runner/spec.ts'
import { run } from './helpers/images.ts'

describe('defaultSpec', () => {
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'runner-spec-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('equals `runc spec` except for the terminal', async () => {
    await run('runc', ['spec'], { cwd: dir })
    const fromRunc = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { process: { terminal: boolean } }
    assert.equal(fromRunc.process.terminal, true)
    fromRunc.process.terminal = false
    assert.deepEqual(defaultSpec(), fromRunc)
  })
})
