/** Mounts the runner tests leave behind on failure: every mount point under a directory, unmounted in `after`. */
import { readFile } from 'node:fs/promises'
import { run } from './images.ts'

/** Unmounts every mount point under `dir` (deepest first), ignoring failures. */
export async function unmountAllUnder (dir: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  const points = info.split('\n')
    .map(line => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter(point => point.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length)
  for (const point of points) await run('umount', ['-l', point]).catch(() => {})
}

/** Mount points under `dir` right now. */
export async function mountsUnder (dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  return info.split('\n').map(line => line.split(' ')[4] ?? '').filter(point => point.startsWith(dir + '/'))
}
