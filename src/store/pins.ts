/**
 * Pins: digests that GC keeps whatever index.json says (an image a node must always be able to run, say).
 * Kept in `.emergence/pins.json`, changed under a lock and replaced atomically.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { isDigest, type Digest } from '../oci/digest.ts'
import { writeFileAtomic } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'
import { withLock } from './lock.ts'
import type { LayoutPaths } from './paths.ts'

const pinsSchema = z.object({
  pins: z.array(z.object({ digest: z.string().refine(isDigest), note: z.string().optional() }))
})

export interface Pin {
  digest: Digest
  note?: string
}

export class PinStore {
  private readonly paths: LayoutPaths

  constructor (paths: LayoutPaths) {
    this.paths = paths
  }

  async list (): Promise<Pin[]> {
    try {
      const parsed = pinsSchema.parse(JSON.parse(await readFile(this.paths.pinsFile, 'utf8')))
      return parsed.pins.map(p => ({ digest: p.digest as Digest, ...(p.note !== undefined ? { note: p.note } : {}) }))
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return []
      throw err
    }
  }

  async add (digest: Digest, note?: string): Promise<void> {
    await this.update(pins => [...pins.filter(p => p.digest !== digest), { digest, ...(note !== undefined ? { note } : {}) }])
  }

  async remove (digest: Digest): Promise<boolean> {
    let found = false
    await this.update(pins => {
      found = pins.some(p => p.digest === digest)
      return pins.filter(p => p.digest !== digest)
    })
    return found
  }

  private async update (change: (pins: Pin[]) => Pin[]): Promise<void> {
    await withLock(this.paths.locksDir, 'pins', async () => {
      const next = change(await this.list())
      await writeFileAtomic(this.paths.pinsFile, JSON.stringify({ pins: next }, null, 2) + '\n', this.paths.tmpDir)
    })
  }
}
