/**
 * Images for the runner tests: OCI layouts built by umoci or by hand (tar-stream layers), ingested into a Store
 * the way a pull would leave them.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync, zstdCompressSync } from 'node:zlib'
import { pack, type Header } from 'tar-stream'
import type { Store } from '../../../../src/store/store.ts'
import { hostPlatform } from '../../../../src/oci/platform.ts'
import { parseDigest } from '../../../../src/oci/digest.ts'
import { parseIndex, type Descriptor } from '../../../../src/oci/types.ts'
import { REF_NAME_ANNOTATION } from '../../../../src/oci/reference.ts'
import { MEDIA_TYPE } from '../../../../src/oci/media-types.ts'

const execFileAsync = promisify(execFile)

/** Runs a tool and returns its stdout; the error carries stderr. */
export async function run (cmd: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...options })
    return stdout
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim()}`, { cause: err })
  }
}

export async function umoci (...args: string[]): Promise<string> {
  return await run('umoci', args)
}

/** Copies every blob of an OCI layout into `store` and tags the layout's `tag` as `ref` there. */
export async function ingestLayout (layoutDir: string, tag: string, store: Store, ref: string): Promise<Descriptor> {
  const blobDir = join(layoutDir, 'blobs', 'sha256')
  for (const name of await readdir(blobDir)) {
    const path = join(blobDir, name)
    await store.blobs.write(parseDigest(`sha256:${name}`), createReadStream(path), { size: (await stat(path)).size })
  }
  const index = parseIndex(await readFile(join(layoutDir, 'index.json')))
  const entry = index.manifests.find(d => d.annotations?.[REF_NAME_ANNOTATION] === tag)
  if (entry === undefined) throw new Error(`no tag ${tag} in ${layoutDir}`)
  const { annotations: _annotations, ...descriptor } = entry
  await store.refs.set(ref, descriptor)
  return descriptor
}

export interface TarEntry {
  header: Header | (Partial<Header> & { name: string })
  content?: string | Buffer
}

/** An uncompressed tar of `entries`, in order. */
export async function buildTar (entries: TarEntry[]): Promise<Buffer> {
  const archive = pack()
  const chunks: Buffer[] = []
  const done = (async () => { for await (const chunk of archive) chunks.push(chunk as Buffer) })()
  for (const { header, content } of entries) {
    const isFile = header.type === undefined || header.type === 'file'
    // A file entry without a buffer would wait for streamed content: give it an empty one.
    const body = content !== undefined ? Buffer.from(content) : isFile ? Buffer.alloc(0) : undefined
    const full = { mode: header.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_600_000_000_000), uid: 0, gid: 0, ...header }
    await new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null): void => { if (err != null) reject(err); else resolve() }
      if (body !== undefined) archive.entry(full, body, callback)
      else archive.entry(full, callback)
    })
  }
  archive.finalize()
  await done
  return Buffer.concat(chunks)
}

export type Compression = 'none' | 'gzip' | 'zstd'

const LAYER_TYPES: Record<Compression, string> = { none: MEDIA_TYPE.ociLayer, gzip: MEDIA_TYPE.ociLayerGzip, zstd: MEDIA_TYPE.ociLayerZstd }

function sha256 (data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

async function putBlob (layoutDir: string, data: Uint8Array, mediaType: string): Promise<Descriptor> {
  const hex = sha256(data)
  await writeFile(join(layoutDir, 'blobs', 'sha256', hex), data)
  return { mediaType, digest: parseDigest(`sha256:${hex}`), size: data.byteLength }
}

export interface HandmadeImage {
  layers: Buffer[]
  compression?: Compression
  config?: Record<string, unknown>
  os?: string
  architecture?: string
  /** Replaces the computed diff_ids (to test the check). */
  diffIds?: string[]
}

/** Writes an OCI layout at `layoutDir` whose tag `tag` is an image of the given uncompressed layer tars. */
export async function writeLayout (layoutDir: string, tag: string, image: HandmadeImage): Promise<Descriptor> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true })
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  const compression = image.compression ?? 'gzip'
  const layers: Descriptor[] = []
  for (const tar of image.layers) {
    const data = compression === 'gzip' ? gzipSync(tar) : compression === 'zstd' ? zstdCompressSync(tar) : tar
    layers.push(await putBlob(layoutDir, data, LAYER_TYPES[compression]))
  }
  const host = hostPlatform()
  const config = {
    architecture: image.architecture ?? host.architecture,
    os: image.os ?? host.os,
    config: image.config ?? {},
    rootfs: { type: 'layers', diff_ids: image.diffIds ?? image.layers.map(tar => `sha256:${sha256(tar)}`) }
  }
  const configDescriptor = await putBlob(layoutDir, Buffer.from(JSON.stringify(config)), MEDIA_TYPE.ociConfig)
  const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, config: configDescriptor, layers }
  const manifestDescriptor = await putBlob(layoutDir, Buffer.from(JSON.stringify(manifest)), MEDIA_TYPE.ociManifest)
  const index = { schemaVersion: 2, manifests: [{ ...manifestDescriptor, annotations: { [REF_NAME_ANNOTATION]: tag } }] }
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify(index))
  return manifestDescriptor
}

/**
 * A one-layer image with Debian's static busybox as /bin/busybox, applet symlinks, and a user `app`
 * (1000:1000, home /home/app, also in group `extra`).
 */
export async function busyboxLayer (): Promise<Buffer> {
  const busybox = await readFile('/bin/busybox')
  const applets = ['sh', 'echo', 'cat', 'id', 'sleep', 'ls', 'grep', 'pwd', 'env', 'true']
  return await buildTar([
    { header: { name: 'bin/', type: 'directory' } },
    { header: { name: 'bin/busybox', type: 'file', mode: 0o755 }, content: busybox },
    ...applets.map(name => ({ header: { name: `bin/${name}`, type: 'symlink' as const, linkname: 'busybox' } })),
    { header: { name: 'etc/', type: 'directory' } },
    { header: { name: 'etc/passwd', type: 'file' }, content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { header: { name: 'etc/group', type: 'file' }, content: 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n' },
    { header: { name: 'home/app/', type: 'directory', uid: 1000, gid: 1000 } },
    { header: { name: 'tmp/', type: 'directory', mode: 0o1777 } }
  ])
}

/** Deletes every runc container under `runcRoot` (tests call it in `after`, whatever happened). */
export async function deleteAllContainers (runcRoot: string): Promise<void> {
  const out = await run('runc', ['--root', runcRoot, 'list', '--format', 'json']).catch(() => 'null')
  const list = JSON.parse(out.trim() === '' ? 'null' : out) as Array<{ id: string }> | null
  for (const { id } of list ?? []) await run('runc', ['--root', runcRoot, 'delete', '--force', id]).catch(() => {})
}
