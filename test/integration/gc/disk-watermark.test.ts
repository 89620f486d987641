/**
 * The automatic GC's disk watermarks on a real filesystem: a 2 MiB tmpfs holds the data dir, filled past the high
 * watermark with images; a pass evicts the least recently used unpinned images until the filesystem is at the low
 * watermark, and keeps the pinned one and the most recent ones.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { diskUsage, runGcPass } from '../../../src/gc/pass.ts'
import { recordUse } from '../../../src/gc/usage.ts'
import { storeRoot } from '../../../src/store/paths.ts'
import { Store } from '../../../src/store/store.ts'
import { blobsOnDisk, putImage, type StoredImage } from '../../helpers/store.ts'
import { tempDir } from '../../helpers/temp.ts'
import { runCommand } from '../../helpers/tools.ts'

const isRoot = process.getuid?.() === 0

test('past the high watermark, a pass frees the disk down to the low one, oldest unpinned images first', { skip: !isRoot && 'needs root to mount a tmpfs' }, async t => {
  const mountPoint = join(await tempDir(t), 'fs')
  await mkdir(mountPoint)
  const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint])
  assert.equal(mounted.code, 0, mounted.stderr)
  try {
    const dataDir = join(mountPoint, 'data')
    const store = await Store.open(storeRoot(dataDir))
    const images: StoredImage[] = []
    // 96 KiB layers until the filesystem is more than 90% full.
    while (await diskUsage(store.root).then(d => d.used / d.size) <= 0.9) {
      const image = await putImage(store, [randomBytes(96 * 1024).toString('latin1')], `image ${images.length}`)
      await store.refs.set(`app/i${images.length}:1`, image.manifest)
      images.push(image)
    }
    assert.ok(images.length >= 8, `${images.length} images fill the filesystem`)
    await store.pins.add(images[0]?.manifest.digest ?? assert.fail())
    const now = Date.now()
    const old = new Date(now - 10 * 3_600_000)
    for (const digest of await blobsOnDisk(store)) await utimes(store.paths.blob(digest as `sha256:${string}`), old, old)
    for (const [i, image] of images.entries()) await recordUse(store, [image.manifest.digest], new Date(now - (images.length - i) * 60_000))

    const report = await runGcPass({ dataDir, store, policy: { highWatermark: 0.9, lowWatermark: 0.5, maxStoreSize: null } })
    assert.match(report.reasons[0] ?? '', /^disk \d+(\.\d)?% > 90%$/)
    assert.ok(report.after.used / report.after.size <= 0.5, `down to ${report.after.used}/${report.after.size}`)
    // Evicted: the oldest after the pinned one, in order of last use.
    const evicted = report.evicted.map(e => e.refs[0])
    assert.deepEqual(evicted, images.slice(1, 1 + evicted.length).map((_, i) => `app/i${i + 1}:1`))
    const left = (await store.refs.list()).map(r => r.ref)
    assert.ok(left.includes('app/i0:1'), 'the pinned image stays')
    assert.ok(left.includes(`app/i${images.length - 1}:1`), 'the most recently used image stays')
    assert.ok(evicted.length < images.length - 2, 'not everything went')
  } finally {
    await runCommand('umount', [mountPoint])
  }
})
