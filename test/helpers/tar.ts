/** Tar archives built in memory with tar-stream, for archives no real tool would write (hostile ones included). */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import tar from 'tar-stream'
import type { Header } from 'tar-stream'

export interface TarEntry {
  name: string
  /** File content; omitted for directories, links and devices. */
  data?: Uint8Array | string
  type?: Header['type']
  linkname?: string
  mode?: number
}

export async function tarBuffer (entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array))
  })()
  for (const entry of entries) {
    const type = entry.type ?? (entry.data !== undefined ? 'file' : 'directory')
    const header = {
      name: entry.name,
      type,
      mtime: new Date(0),
      ...(entry.mode !== undefined ? { mode: entry.mode } : {}),
      ...(entry.linkname !== undefined ? { linkname: entry.linkname } : {}),
      ...(type === 'character-device' || type === 'block-device' ? { devmajor: 1, devminor: 3 } : {})
    }
    await new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null): void => { if (err != null) reject(err); else resolve() }
      if (entry.data !== undefined) pack.entry(header, Buffer.from(entry.data), callback)
      else pack.entry(header, callback).end(null)
    })
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}

export async function writeTar (file: string, entries: TarEntry[]): Promise<void> {
  await writeFile(file, await tarBuffer(entries))
}

/** Entries for every directory and file under `dir`, named `<prefix><relative path>` (tar's `./` style if asked). */
export async function directoryEntries (dir: string, prefix = ''): Promise<TarEntry[]> {
  const entries: TarEntry[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`
      if ((await stat(join(dir, path))).isDirectory()) {
        entries.push({ name: `${prefix}${path}/`, type: 'directory' })
        await walk(path)
      } else {
        entries.push({ name: `${prefix}${path}`, data: await readFile(join(dir, path)) })
      }
    }
  }
  await walk('')
  return entries
}
