/**
 * Leases keep blobs that are written but not yet referenced from index.json out of GC's reach: a writer adds a
 * digest to its lease *before* renaming the blob into `blobs/`, and releases the lease after the ref is written.
 * GC lists `blobs/` first and reads leases second, so a blob it sees is either leased or already referenced.
 * A lease is a file `lease.<pid>.<random>` of digest lines; a dead process's lease is ignored and removed.
 */
import { appendFile, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isDigest, type Digest } from '../oci/digest.ts'
import { processAlive, tempName } from '../util/fs.ts'
import { isErrno } from '../util/errors.ts'

export class Lease {
  private released = false

  readonly file: string

  constructor (file: string) {
    this.file = file
  }

  async add (digest: Digest): Promise<void> {
    if (this.released) throw new Error('lease already released')
    await appendFile(this.file, digest + '\n')
  }

  async release (): Promise<void> {
    this.released = true
    await rm(this.file, { force: true })
  }
}

export async function createLease (leasesDir: string): Promise<Lease> {
  await mkdir(leasesDir, { recursive: true })
  const lease = new Lease(tempName(leasesDir, 'lease'))
  await appendFile(lease.file, '')
  return lease
}

/** Every digest held by a live process's lease (but `exclude`); leases of dead processes are deleted. */
export async function leasedDigests (leasesDir: string, exclude?: Lease): Promise<Set<Digest>> {
  const digests = new Set<Digest>()
  let names: string[]
  try {
    names = await readdir(leasesDir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return digests
    throw err
  }
  for (const name of names) {
    const pid = Number(name.split('.')[1])
    const file = join(leasesDir, name)
    if (file === exclude?.file) continue
    if (!Number.isInteger(pid) || !processAlive(pid)) {
      await rm(file, { force: true })
      continue
    }
    const text = await readFile(file, 'utf8').catch(() => '')
    for (const line of text.split('\n')) if (isDigest(line)) digests.add(line)
  }
  return digests
}
