/**
 * `image build --from docker://<host>/<name>:<tag>` in one command: the base is imported from Debian's
 * docker-registry on loopback (pushed there with skopeo) when the store lacks it, its layers are referenced by
 * the new image, and the image runs under runc; a second build uses the stored base without asking the registry; a
 * registry that does not answer is one error line and leaves the store as it was.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { freePort } from '../../../scripts/lib/ports.ts'
import { storeRoot } from '../../../src/store/paths.ts'
import { snapshotLines, snapshotTree } from '../../helpers/snapshot.ts'
import { tempDir } from '../../helpers/temp.ts'
import { assertCliError, runCli, tool } from '../../helpers/tools.ts'
import { startDockerRegistry } from '../registry/processes.ts'
import { busyboxLayout, cliOk, join, openImage } from './helpers.ts'

test('image build --from docker://: the base comes from the registry, once, and the image runs', async t => {
  const work = await tempDir(t, 'emergence-build-registry-')
  const registry = await startDockerRegistry(t, join(work, 'registry'))
  const layout = await busyboxLayout(join(work, 'busybox'))
  await tool('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${registry}/e2e/busybox:1`])
  const pushed = JSON.parse(await tool('skopeo', ['inspect', '--tls-verify=false', `docker://${registry}/e2e/busybox:1`])) as { Layers: string[] }
  await mkdir(join(work, 'site'))
  await writeFile(join(work, 'site', 'index.html'), 'on a registry base\n')
  const data = join(work, 'data')
  const build = (tag: string): string[] => ['image', 'build', '--from', `docker://${registry}/e2e/busybox:1`, '--plain-http',
    '--add', `${join(work, 'site')}:/srv`, '--cmd', '["-c","cat /srv/index.html"]', '-t', tag]

  await cliOk(data, build('reg/site:1'))
  const { image } = await openImage(data, 'reg/site:1')
  assert.deepEqual(image.manifest.layers.slice(0, -1).map(l => l.digest), pushed.Layers)
  assert.equal(image.manifest.layers.length, pushed.Layers.length + 1)
  const base = await openImage(data, `${registry}/e2e/busybox:1`)
  assert.deepEqual(base.image.manifest.layers.map(l => l.digest), pushed.Layers)
  assert.equal((await cliOk(data, ['run', '--rm', 'reg/site:1'])).stdout, 'on a registry base\n')

  // The store holds the base now: the same build asks the registry nothing (it has lost the image) and gives
  // the same image.
  await rm(join(work, 'registry', 'storage'), { recursive: true })
  const again = await cliOk(data, build('reg/site:2'))
  assert.match(again.stdout, new RegExp(image.manifestDescriptor.digest))

  const before = snapshotLines(await snapshotTree(storeRoot(data)))
  const nowhere = `127.0.0.1:${await freePort()}`
  const failed = await runCli(['image', 'build', '--from', `docker://${nowhere}/e2e/busybox:1`, '--plain-http', '--add', join(work, 'site'), '-t', 'reg/bad:1'], { dataDir: data })
  assert.match(assertCliError(failed), new RegExp(nowhere.replace(/\./g, '\\.')))
  assert.deepEqual(snapshotLines(await snapshotTree(storeRoot(data))), before)
})

