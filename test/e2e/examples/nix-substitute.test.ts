/**
 * examples/nix-substitute.sh runs as an operator would run it: `nix copy --from` a node's binary cache gets a
 * closure that node fetched from another node on demand, and the program in it runs.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { NIX_ENV } from '../../integration/nix/helpers.ts'
import { REPO_ROOT, runCommand } from '../../helpers/tools.ts'

const isRoot = process.getuid?.() === 0

test('examples/nix-substitute.sh: Nix substitutes a closure from a node that fetched it from its peer', { skip: !isRoot && 'needs root for the system Nix store' }, async () => {
  const result = await runCommand('sh', [join(REPO_ROOT, 'examples', 'nix-substitute.sh')], { env: NIX_ENV })
  assert.equal(result.code, 0, `stdout: ${result.stdout}\nstderr: ${result.stderr}`)
  assert.match(result.stdout, /^hello, substituted from a peer$/m)
  assert.match(result.stdout, /^\/nix\/store\/[0-9a-z]{32}-emergence-example-hello +path /m)
  const work = /^log (\S+)\/n1\/node\.log;/m.exec(result.stdout)?.[1]
  assert.ok(work !== undefined, result.stdout)
  assert.equal(existsSync(work), false, 'the example removed its work directory')
})
