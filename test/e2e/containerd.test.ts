/**
 * containerd (Debian's 1.6, as root) pulls through a node's registry mirror, configured only by the hosts.toml
 * that `emergence containerd configure` writes: the image the node holds comes from the mirror, one it lacks
 * from the upstream (Debian's docker-registry), and `ctr run` runs what came from the mirror. containerd and
 * the registry run with their own config, root, state and socket in a temp dir and are stopped by PID.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRegistryMirror } from '../../src/registry/index.ts'
import { Store } from '../../src/store/store.ts'
import { layerTar } from '../helpers/layout.ts'
import { tarBuffer } from '../helpers/tar.ts'
import { tempDir } from '../helpers/temp.ts'
import { runCli, tool } from '../helpers/tools.ts'
import { putGzipImage } from '../integration/registry/helpers.ts'
import { startDockerRegistry } from '../integration/registry/processes.ts'
import { startContainerd } from '../../scripts/lib/containerd.ts'

const isRoot = process.getuid?.() === 0

test('containerd pulls through the mirror by hosts.toml alone, falls back to the upstream, and runs the image', { skip: !isRoot && 'needs root for containerd' }, async t => {
  const dir = await tempDir(t, 'emergence-containerd-')
  const store = await Store.open(join(dir, 'oci'))
  const busybox = await readFile('/bin/busybox')
  const layer = await tarBuffer([{ name: 'bin/busybox', data: busybox, mode: 0o755 }, { name: 'hello', data: 'from the mirror\n', mode: 0o644 }])
  const image = await putGzipImage(store, 'app/web:1.0', [layer])
  const mirror = await createRegistryMirror({ store }, { host: '127.0.0.1', port: 0 })
  t.after(async () => { await mirror.close() })

  const upstream = await startDockerRegistry(t, join(dir, 'upstream'))
  // The upstream alone has app/other:1.0 (pushed with skopeo from a layout the node never sees).
  const other = await Store.open(join(dir, 'other'))
  const otherImage = await putGzipImage(other, 'app/other:1.0', [await layerTar({ other: 'from upstream\n' })])
  await tool('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${join(dir, 'other')}:app/other:1.0`, `docker://${upstream}/app/other:1.0`])

  const hostsDir = join(dir, 'certs.d')
  const configured = await runCli(['containerd', 'configure', '--config-path', hostsDir, '--registry-host', upstream, '--server', `http://${upstream}`, '--mirror', mirror.url])
  assert.equal(configured.code, 0, configured.stderr)
  const containerd = await startContainerd(join(dir, 'containerd'))
  t.after(async () => { await containerd.stop() })
  const ctr = async (...args: string[]): Promise<string> => await containerd.ctr(args)

  await ctr('images', 'pull', '--hosts-dir', hostsDir, `${upstream}/app/web:1.0`)
  const listed = await ctr('images', 'ls')
  assert.match(listed, new RegExp(`${upstream}/app/web:1.0\\s+\\S+\\s+${image.manifest.digest}`))
  await ctr('images', 'pull', '--hosts-dir', hostsDir, `${upstream}/app/other:1.0`)
  assert.match(await ctr('images', 'ls'), new RegExp(`${upstream}/app/other:1.0\\s+\\S+\\s+${otherImage.manifest.digest}`))
  const output = await ctr('run', '--rm', `${upstream}/app/web:1.0`, `emergence-${process.pid}`, '/bin/busybox', 'cat', '/hello')
  assert.equal(output, 'from the mirror\n')
})
