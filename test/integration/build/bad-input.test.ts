/**
 * Bad build input ends in one `emergence: error:` line, exit 1, and the store exactly as it was: an --add path
 * that does not exist, a base that does not exist, a source that fails halfway (after a first layer was written),
 * a store path that is not in the Nix store, and squash of a missing image.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { storeRoot } from '../../../src/store/paths.ts'
import { snapshotLines, snapshotTree } from '../../helpers/snapshot.ts'
import { assertCliError, runCli } from '../../helpers/tools.ts'
import { BASE_REF, busyboxLayout, cliOk, importBusybox, join } from './helpers.ts'

describe('image build with bad input', () => {
  let work = ''
  let data = ''
  let server: Server | undefined

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'emergence-build-bad-'))
    data = join(work, 'data')
    await importBusybox(await busyboxLayout(join(work, 'busybox')), data)
    await mkdir(join(work, 'good'))
    await writeFile(join(work, 'good', 'file'), 'good\n')
    // A first build leaves the store's bookkeeping directories in place, as any used store has them.
    await cliOk(data, ['image', 'build', '--from', BASE_REF, '--add', join(work, 'good'), '-t', 'ok/first:1'])
    await mkdir(join(work, 'with-socket'))
    server = createServer()
    await new Promise<void>(resolve => server?.listen(join(work, 'with-socket', 'sock'), resolve))
  })
  after(async () => {
    await new Promise(resolve => server?.close(resolve))
    await rm(work, { recursive: true, force: true })
  })

  const cases: Array<[string, () => string[], RegExp]> = [
    ['an --add path that does not exist', () => ['image', 'build', '--add', join(work, 'absent') + ':/x', '-t', 'bad/a:1'], /--add .*absent.*: no such file or directory/],
    ['a base that does not exist', () => ['image', 'build', '--from', 'no/such:1', '--add', join(work, 'good'), '-t', 'bad/b:1'], /no image no\/such:1 in the store/],
    ['a source that fails after a first layer was written', () => ['image', 'build', '--from', BASE_REF, '--add', `${join(work, 'good')}:/new-place`,
      '--add', join(work, 'with-socket'), '-t', 'bad/c:1'], /cannot put .*sock into a layer: sockets/],
    ['a digest as the tag', () => ['image', 'build', '--add', join(work, 'good'), '-t', `x@sha256:${'0'.repeat(64)}`], /-t wants name:tag/],
    ['an entry --env without =', () => ['image', 'build', '--add', join(work, 'good'), '--env', 'NOPE', '-t', 'bad/e:1'], /--env wants KEY=VALUE/],
    ['a store path not in the Nix store', () => ['image', 'from-nix', `/nix/store/${'0'.repeat(32)}-absent`, '-t', 'bad/f:1'], /0{32}-absent/],
    ['squash of a missing image', () => ['image', 'squash', 'no/such:1', '-t', 'bad/g:1'], /no image no\/such:1/]
  ]
  for (const [what, args, message] of cases) {
    it(`${what}: one error line, nothing written`, async () => {
      const before = snapshotLines(await snapshotTree(storeRoot(data)))
      const result = await runCli(args(), { dataDir: data })
      assert.equal(result.code, 1)
      assert.match(assertCliError(result), message)
      assert.deepEqual(snapshotLines(await snapshotTree(storeRoot(data))), before)
    })
  }
})
