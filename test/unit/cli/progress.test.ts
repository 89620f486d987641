/** Progress as the CLI prints it: no empty sizes before they are known, and JSON progress lines with `--json`. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { progressLine } from '../../../src/cli/commands/node.ts'
import { pullLine } from '../../../src/cli/commands/nix.ts'
import { createOutput } from '../../../src/cli/output.ts'
import type { NixPullProgress } from '../../../src/nix/pull-progress.ts'
import type { PullProgress } from '../../../src/p2p/pulling/progress.ts'

const start: PullProgress = { ref: 'app/web:1.0', phase: 'resolving', bytesDone: 0, bytesTotal: 0, rate: 0, peers: 0, perPeer: {}, blobsDone: 0, blobsTotal: 0 }

test('a pull line shows sizes and peers only once they are known', () => {
  assert.equal(progressLine(start), 'app/web:1.0: resolving')
  assert.equal(progressLine({ ...start, phase: 'fetching', blobsTotal: 3 }), 'app/web:1.0: fetching, blobs 0/3')
  assert.equal(progressLine({ ...start, phase: 'fetching', bytesDone: 1024, bytesTotal: 4096, blobsTotal: 3 }), 'app/web:1.0: fetching 1.0 KiB/4.0 KiB (25%) 0 B/s, blobs 0/3')
  assert.equal(
    progressLine({ ...start, phase: 'fetching', bytesDone: 2048, bytesTotal: 4096, rate: 1024, peers: 2, blobsDone: 1, blobsTotal: 3 }),
    'app/web:1.0: fetching 2.0 KiB/4.0 KiB (50%) 1.0 KiB/s from 2 peer(s), blobs 1/3 eta 2s')
  const nix: NixPullProgress = { root: '/nix/store/abc-hello', phase: 'resolving', pathsDone: 0, pathsTotal: 0, bytesDone: 0, bytesTotal: 0, rate: 0, peers: 0, perPeer: {} }
  assert.equal(pullLine(nix), '/nix/store/abc-hello: resolving')
  assert.equal(pullLine({ ...nix, phase: 'fetching', pathsTotal: 2, bytesTotal: 2048, bytesDone: 1024, peers: 1 }), '/nix/store/abc-hello: fetching paths 0/2 1.0 KiB/2.0 KiB (50%) 0 B/s from 1 peer(s)')
})

test('with --json, progress goes to stderr as JSON lines, at most one a second; without data, nothing', () => {
  const written: string[] = []
  const stream = { isTTY: false, write: (text: string) => { written.push(text); return true } } as unknown as NodeJS.WriteStream
  const output = createOutput(true, stream)
  output.progress('text only')
  assert.deepEqual(written, [])
  output.progress('app: fetching', { phase: 'fetching', bytesDone: 1 })
  output.progress('app: fetching', { phase: 'fetching', bytesDone: 2 })
  assert.deepEqual(written.map(line => JSON.parse(line) as unknown), [{ progress: { phase: 'fetching', bytesDone: 1 } }])
})

test('without a terminal, progress is plain lines at most once a second, with no escape codes', () => {
  const written: string[] = []
  const stream = { isTTY: false, write: (text: string) => { written.push(text); return true } } as unknown as NodeJS.WriteStream
  const output = createOutput(false, stream)
  output.progress('one')
  output.progress('two')
  output.done()
  assert.deepEqual(written, ['one\n'])
})
