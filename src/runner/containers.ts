/**
 * Container records: one JSON file per container under `<data-dir>/runner/containers/`, written atomically,
 * so `emergence ps/stop/rm` can list containers with what runc does not know (image, log, how it started).
 * Where things live under `<data-dir>/runner/` is defined here too.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { isErrno } from '../util/errors.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { checkContainerId } from './runtime.ts'

export const containerRecordSchema = z.object({
  id: z.string(),
  /** 'image': an OCI image from the store; 'closure': a Nix closure. */
  kind: z.enum(['image', 'closure']),
  /** The image reference, or the closure's first store path. */
  image: z.string(),
  /** The manifest digest, for images. */
  digest: z.string().optional(),
  bundle: z.string(),
  /** The container's stdout and stderr, for detached runs. */
  log: z.string().optional(),
  /** ISO 8601. */
  created: z.string(),
  detached: z.boolean(),
  /** The exit code of a foreground run, once it ended. */
  exitCode: z.number().int().optional(),
  /** runc's state root this container lives under. */
  runcRoot: z.string(),
  /** How the image's rootfs was made: an overlayfs view on the layer cache, or a copy (older records: a copy). */
  rootfs: z.enum(['overlay', 'copy']).optional(),
  /** The chain ids of the cached layers an overlay view stands on (kept by the layer GC). */
  layers: z.array(z.string()).optional()
})
export type ContainerRecord = z.infer<typeof containerRecordSchema>

/** Directories under `<data-dir>/runner/`. */
export class RunnerPaths {
  readonly root: string
  readonly bundles: string
  readonly containers: string
  readonly logs: string
  readonly runcRoot: string
  /** The layer cache: one directory per unpacked layer, named by its chain id. */
  readonly layers: string

  constructor (dataDir: string) {
    this.root = join(dataDir, 'runner')
    this.bundles = join(this.root, 'bundles')
    this.containers = join(this.root, 'containers')
    this.logs = join(this.root, 'logs')
    this.runcRoot = join(this.root, 'runc')
    this.layers = join(this.root, 'layers')
  }

  bundle (id: string): string {
    return join(this.bundles, checkContainerId(id))
  }

  log (id: string): string {
    return join(this.logs, `${checkContainerId(id)}.log`)
  }
}

export class ContainerRecords {
  readonly dir: string

  constructor (dir: string) {
    this.dir = dir
  }

  private file (id: string): string {
    return join(this.dir, `${checkContainerId(id)}.json`)
  }

  async put (record: ContainerRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await writeFileAtomic(this.file(record.id), JSON.stringify(containerRecordSchema.parse(record), null, 2) + '\n')
  }

  async get (id: string): Promise<ContainerRecord | undefined> {
    let text: string
    try {
      text = await readFile(this.file(id), 'utf8')
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined
      throw err
    }
    const parsed = containerRecordSchema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : undefined
  }

  /** Every readable record, oldest first; files that do not parse are skipped. */
  async list (): Promise<ContainerRecord[]> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return []
      throw err
    }
    const records: ContainerRecord[] = []
    for (const name of names) {
      if (!name.endsWith('.json')) continue
      const record = await this.get(name.slice(0, -'.json'.length)).catch(() => undefined)
      if (record !== undefined) records.push(record)
    }
    return records.sort((a, b) => a.created.localeCompare(b.created))
  }

  async remove (id: string): Promise<boolean> {
    try {
      await rm(this.file(id))
      return true
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false
      throw err
    }
  }
}
