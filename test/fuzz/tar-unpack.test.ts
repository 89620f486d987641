/**
 * Fuzzing the layer unpacker (docs/formats.md "OCI layers", umoci's semantics): tar layers of random entries with
 * hostile names (`..`, absolute paths, paths through symlinks aimed outside, whiteouts, deep and long names) and
 * links, and well-formed layers cut short or corrupted. The unpack may only succeed or throw the runner's, the
 * store's or the OCI module's typed errors, must always finish, and never writes outside its rootfs; a failed
 * unpack leaves nothing (the rootfs is built beside the target and renamed into place).
 */
import { test } from 'node:test'
import { createHash } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { pack, type Header } from 'tar-stream'
import * as ociErrors from '../../src/oci/errors.ts'
import { MEDIA_TYPE } from '../../src/oci/media-types.ts'
import type { Digest } from '../../src/oci/digest.ts'
import * as runnerErrors from '../../src/runner/errors.ts'
import { applyLayers, type LayerJob } from '../../src/runner/layer-stream.ts'
import * as storeErrors from '../../src/store/errors.ts'
import { silentLogger } from '../../src/util/logger.ts'
import { FUZZ_TIMEOUT_MS, errorClassesOf, fuzzParameters, succeedsOrTyped, withSandbox, type Sandbox } from './fuzz.ts'

const TYPED = errorClassesOf(runnerErrors, storeErrors, ociErrors)
const LIMITS = { maxUnpackedBytes: 1024 * 1024, minFreeBytes: 0, maxDepth: 32 }

interface Entry {
  name: string
  type: 'file' | 'directory' | 'symlink' | 'link' | 'fifo'
  linkname: string
  content: Uint8Array
}

function entries (outside: string): fc.Arbitrary<Entry[]> {
  const part = fc.constantFrom('a', 'b', 'c', '..', '.', 'out', '.wh.a', '.wh..wh..opq', 'l')
  const name = fc.oneof(
    fc.array(part, { minLength: 1, maxLength: 5 }).map(parts => parts.join('/')),
    fc.constantFrom('/', './', `${outside}/x`, '/etc/passwd', '../../outside/x', 'd/'.repeat(40), 'n'.repeat(300)),
    fc.string({ maxLength: 10 })
  )
  const linkname = fc.oneof(name, fc.constantFrom('/', '..', outside, `${outside}/sentinel`, '../outside', '../../..'))
  const entry = fc.record({
    name,
    type: fc.constantFrom('file', 'directory', 'symlink', 'link', 'fifo'),
    linkname,
    content: fc.uint8Array({ maxLength: 32 })
  })
  return fc.array(entry, { maxLength: 10 })
}

async function tarOf (list: Entry[]): Promise<Buffer> {
  const archive = pack()
  const chunks: Buffer[] = []
  const done = (async () => { for await (const chunk of archive) chunks.push(chunk as Buffer) })()
  for (const entry of list) {
    const header: Partial<Header> & { name: string } = { name: entry.name, type: entry.type, mode: 0o755, mtime: new Date(0), uid: 0, gid: 0 }
    if (entry.type === 'symlink' || entry.type === 'link') header.linkname = entry.linkname
    await new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null): void => { if (err != null) reject(err); else resolve() }
      if (entry.type === 'file') archive.entry(header, Buffer.from(entry.content), callback)
      else archive.entry(header, callback).end(null)
    })
  }
  archive.finalize()
  await done
  return Buffer.concat(chunks)
}

const sha256 = (bytes: Uint8Array): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** Writes `tar` (gzipped or not) as a layer blob and unpacks it into a fresh rootfs in the sandbox. */
async function unpack (box: Sandbox, tar: Buffer, gzip: boolean): Promise<void> {
  const blob = gzip ? gzipSync(tar) : tar
  const path = join(box.dir, 'layer.blob')
  await writeFile(path, blob)
  const job: LayerJob = {
    descriptor: { mediaType: gzip ? MEDIA_TYPE.ociLayerGzip : MEDIA_TYPE.ociLayer, digest: sha256(blob), size: blob.byteLength },
    diffId: sha256(tar),
    path
  }
  await mkdir(box.target)
  try {
    await applyLayers([job], box.target, { logger: silentLogger, privileged: true, limits: LIMITS })
  } finally {
    await rm(path, { force: true })
  }
}

test('layers of random hostile entries unpack or fail typed, never writing outside the rootfs', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  await withSandbox('fuzz-tar-', async box => {
    await fc.assert(fc.asyncProperty(entries(box.outside), fc.boolean(), async (list, gzip) => {
      await box.confined(async () => { await succeedsOrTyped(async () => { await unpack(box, await tarOf(list), gzip) }, TYPED) })
    }), fuzzParameters(150))
  })
})

test('corrupted or cut tars unpack or fail typed, never writing outside the rootfs', { timeout: FUZZ_TIMEOUT_MS }, async () => {
  const valid = await tarOf([
    { name: 'dir/', type: 'directory', linkname: '', content: new Uint8Array() },
    { name: 'dir/file', type: 'file', linkname: '', content: Buffer.from('contents\n') },
    { name: 'dir/link', type: 'symlink', linkname: '../outside', content: new Uint8Array() }
  ])
  await withSandbox('fuzz-tar-bytes-', async box => {
    const change = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), cut: fc.boolean(), gzip: fc.boolean() })
    await fc.assert(fc.asyncProperty(change, async ({ at, value, cut, gzip }) => {
      const bytes = Buffer.from(valid)
      const where = at % bytes.length
      bytes[where] = value
      const tar = cut ? bytes.subarray(0, where) : bytes
      await box.confined(async () => { await succeedsOrTyped(async () => { await unpack(box, tar, gzip) }, TYPED) })
    }), fuzzParameters(300))
  })
})
