/**
 * The layer cache with real runc and overlayfs: a second container of an image unpacks nothing and sees the
 * image, not the first container's writes; the overlay view of the umoci image (whiteouts, opaque directory,
 * hard links, devices) is the tree umoci unpacks; a layer is unpacked once, a crash mid-unpack leaves no layer
 * visible, the unpack limits and path guards hold per layer, and GC removes unused layers while keeping used ones. Every container is deleted and every overlay
 * unmounted in `after`, whatever happened.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { Store } from '../../../src/store/store.ts'
import { RunnerPaths } from '../../../src/runner/containers.ts'
import { loadImage } from '../../../src/runner/image.ts'
import { listContainers, removeContainer } from '../../../src/runner/manage.ts'
import { runImage } from '../../../src/runner/run.ts'
import { LayerCache } from '../../../src/runner/layers/cache.ts'
import { gcLayers } from '../../../src/runner/layers/gc.ts'
import { mountOverlay, unmountIfMounted } from '../../../src/runner/layers/overlay.ts'
import { busyboxLayer, buildTar, deleteAllContainers, ingestLayout, writeLayout } from './helpers/images.ts'
import { mountsUnder, unmountAllUnder } from './helpers/mounts.ts'
import { diffTrees, snapshotTree } from './helpers/tree.ts'
import { buildUmociImage } from './helpers/umoci-image.ts'

function output (): { stream: PassThrough, text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

async function layerDirs (paths: RunnerPaths): Promise<string[]> {
  return (await readdir(paths.layers).catch(() => [] as string[])).filter(name => !name.startsWith('.')).sort()
}

describe('layer cache and overlay views', () => {
  let dir: string
  let dataDir: string
  let paths: RunnerPaths
  let store: Store

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-layers-'))
    dataDir = join(dir, 'data')
    paths = new RunnerPaths(dataDir)
    store = await Store.open(join(dataDir, 'oci'))
    const layout = join(dir, 'layout')
    const extra = await buildTar([{ header: { name: 'srv/marker', type: 'file' }, content: 'from the image\n' }])
    await writeLayout(layout, 't', { layers: [await busyboxLayer(), extra], config: { Cmd: ['sh'] } })
    await ingestLayout(layout, 't', store, 'test/busybox:2')
  })
  after(async () => {
    await deleteAllContainers(paths.runcRoot)
    await unmountAllUnder(dir)
    await rm(dir, { recursive: true, force: true })
  })

  it('starts a second container without unpacking again; writes stay in their own container', async () => {
    const first = output()
    const a = await runImage({ store, dataDir, image: 'test/busybox:2', id: 'a', command: ['sh', '-c', 'echo mine > /srv/written; cat /srv/marker /srv/written'], io: { stdout: first.stream } })
    assert.equal(a.exitCode, 0)
    assert.equal(first.text(), 'from the image\nmine\n')
    assert.equal(a.record.rootfs, 'overlay')
    assert.equal(a.record.layers?.length, 2)
    const layers = await layerDirs(paths)
    assert.equal(layers.length, 2)
    const inodes = await Promise.all(layers.map(async name => (await stat(join(paths.layers, name))).ino))

    const third = output()
    const c = await runImage({ store, dataDir, image: 'test/busybox:2', id: 'c', command: ['sh', '-c', 'cat /srv/marker; test -e /srv/written; echo $?'], io: { stdout: third.stream }, remove: true })
    assert.equal(c.exitCode, 0)
    assert.equal(third.text(), 'from the image\n1\n')
    assert.deepEqual(await layerDirs(paths), layers)
    assert.deepEqual(await Promise.all(layers.map(async name => (await stat(join(paths.layers, name))).ino)), inodes)

    await removeContainer({ dataDir, id: 'a' })
    assert.deepEqual(await mountsUnder(dir), [])
    assert.deepEqual(await readdir(paths.bundles), [])
  })

  it('shows the umoci image through the overlay exactly as umoci unpacks it', async () => {
    const built = await buildUmociImage(join(dir, 'umoci'))
    await ingestLayout(built.layout, 't', store, 'test/umoci:t')
    const image = await loadImage(store, 'test/umoci:t')
    const cache = new LayerCache(join(dir, 'umoci-cache'))
    const cached = await cache.ensure(store, image)
    assert.equal(cached.unpacked, 3)
    const view = join(dir, 'view')
    try {
      await mountOverlay({ target: join(view, 'rootfs'), layers: cached.dirs, upper: join(view, 'upper'), work: join(view, 'work') }, cache.root)
      const actual = await snapshotTree(join(view, 'rootfs'))
      assert.deepEqual(diffTrees(await snapshotTree(built.rootfs), actual), [])
      assert.equal(actual.has('a/keep'), false)
      assert.equal(actual.get('a/fresh')?.type, 'file')
      assert.equal(actual.has('home/user/.profile'), false)
    } finally {
      await unmountIfMounted(join(view, 'rootfs'))
    }
    assert.equal((await cache.ensure(store, image)).unpacked, 0)
  })

  it('leaves no layer visible when the unpacking process is killed, and unpacks it on the next run', async () => {
    const layout = join(dir, 'big')
    const big = await buildTar([{ header: { name: 'zeros', type: 'file' }, content: Buffer.alloc(256 * 1024 * 1024) }])
    await writeLayout(layout, 't', { layers: [big] })
    await ingestLayout(layout, 't', store, 'test/big:1')
    const cacheDir = join(dir, 'crash-cache')
    const script = [
      `import { Store } from ${JSON.stringify(new URL('../../../src/store/store.ts', import.meta.url).pathname)}`,
      `import { loadImage } from ${JSON.stringify(new URL('../../../src/runner/image.ts', import.meta.url).pathname)}`,
      `import { LayerCache } from ${JSON.stringify(new URL('../../../src/runner/layers/cache.ts', import.meta.url).pathname)}`,
      `const store = await Store.open(${JSON.stringify(store.root)})`,
      `await new LayerCache(${JSON.stringify(cacheDir)}).ensure(store, await loadImage(store, 'test/big:1'))`
    ].join('\n')
    const scriptFile = join(dir, 'unpack-child.ts')
    await writeFile(scriptFile, script)
    const child = spawn(process.execPath, [scriptFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    let ended = false
    const exited = new Promise(resolve => child.once('exit', code => { ended = true; resolve(code) }))
    // Wait until the child is writing into its temp directory, then kill it.
    let writing = false
    while (!ended && !writing) {
      const temp = (await readdir(cacheDir).catch(() => [] as string[])).find(name => name.startsWith('.unpack.'))
      writing = temp !== undefined && (await readdir(join(cacheDir, temp)).catch(() => [])).length > 0
      if (!writing) await sleep(5)
    }
    child.kill('SIGKILL')
    await exited
    assert.ok(writing, `the unpacking process ended before it was killed: ${stderr}`)
    assert.deepEqual((await readdir(cacheDir)).filter(name => !name.startsWith('.')), [])
    const cached = await new LayerCache(cacheDir).ensure(store, await loadImage(store, 'test/big:1'))
    assert.equal(cached.unpacked, 1)
    assert.deepEqual((await readdir(cacheDir)).filter(name => !name.startsWith('.lock')), [cached.dirs[0]?.split('/').at(-1)])
    assert.equal((await stat(join(cached.dirs[0] ?? '', 'zeros'))).size, 256 * 1024 * 1024)
  })

  it('keeps the unpack limits and hostile-entry guards: nothing outside a layer, nothing left on failure', async () => {
    const cacheDir = join(dir, 'hostile-cache')
    const layout = join(dir, 'hostile')
    const escape = `pwned-${process.pid}`
    await writeLayout(layout, 't', {
      layers: [
        await buildTar([{ header: { name: 'evil', type: 'symlink', linkname: '/tmp' } }]),
        await buildTar([
          { header: { name: `evil/${escape}`, type: 'file' }, content: 'x' },
          { header: { name: `../../${escape}`, type: 'file' }, content: 'y' }
        ]),
        await buildTar([{ header: { name: 'zeros', type: 'file' }, content: Buffer.alloc(2 * 1024 * 1024) }])
      ]
    })
    await ingestLayout(layout, 't', store, 'test/hostile:1')
    const image = await loadImage(store, 'test/hostile:1')
    await assert.rejects(new LayerCache(cacheDir).ensure(store, image, { limits: { maxUnpackedBytes: 1024 * 1024 } }), { name: 'UnpackLimitError' })
    // The first two layers verified and stay; the third left nothing, not even a temp directory.
    const kept = (await readdir(cacheDir)).filter(name => !name.startsWith('.lock'))
    assert.equal(kept.length, 2)
    await assert.rejects(stat(join('/tmp', escape)), { code: 'ENOENT' })
    const cached = await new LayerCache(cacheDir).ensure(store, image)
    assert.equal(cached.unpacked, 1)
    assert.equal((await stat(join(cached.dirs[1] ?? '', 'evil', escape))).isFile(), true)
    assert.equal((await stat(join(cached.dirs[1] ?? '', escape))).isFile(), true)
    await assert.rejects(stat(join('/tmp', escape)), { code: 'ENOENT' })
  })

  it('GC removes layers nothing uses and keeps those of a container and of a stored image', async () => {
    const layout = join(dir, 'gc')
    await writeLayout(layout, 't', { layers: [await busyboxLayer(), await buildTar([{ header: { name: 'gc-only', type: 'file' }, content: 'x' }])], config: { Cmd: ['sh'] } })
    await ingestLayout(layout, 't', store, 'test/gc:1')
    const kept = await runImage({ store, dataDir, image: 'test/gc:1', id: 'kept', command: ['true'], io: { stdout: output().stream } })
    assert.equal(kept.exitCode, 0)
    const before = await layerDirs(paths)
    // The image goes from the store: only the container keeps its top layer.
    await store.refs.remove('test/gc:1')
    const dry = await gcLayers({ dataDir, store, dryRun: true })
    assert.deepEqual(dry.removed, [])
    await removeContainer({ dataDir, id: 'kept' })
    const result = await gcLayers({ dataDir, store })
    const top = (kept.record.layers ?? []).at(-1)?.slice('sha256:'.length)
    assert.deepEqual(result.removed, [top])
    assert.ok(result.freedBytes > 0)
    // The busybox layer is shared with test/busybox:2, still in the store.
    assert.deepEqual(await layerDirs(paths), before.filter(name => name !== top))
    assert.deepEqual(await listContainers({ dataDir }), [])
  })
})
