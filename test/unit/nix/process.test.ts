import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { runCommand } from '../../../src/nix/process.ts'

test('stdin is written chunk by chunk, each before the next is asked for: a source may refill one buffer', async () => {
  const buffer = Buffer.alloc(4 * 1024)
  const expected = createHash('sha256')
  async function * refilled (): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 4096; i++) {
      buffer.fill(i % 256) // overwrites the previous chunk: only safe once the child has been handed it
      expected.update(buffer)
      yield buffer
    }
  }
  const { stdout } = await runCommand('sha256sum', [], { stdin: refilled() })
  assert.equal(stdout.toString('utf8').split(' ')[0], expected.digest('hex'))
})
