/**
 * A container's writable view of its image: an overlayfs mount (docs/formats.md "overlayfs") with the
 * image's unpacked layers as `lowerdir` and the container's own `upperdir` and `workdir` in its bundle. Mounted
 * before `runc create`/`run`, unmounted before the bundle is deleted. `mount(8)` runs in the layer cache's
 * directory and names the layers relatively: the options of one mount must fit in a page (4096 bytes), which
 * absolute paths would fill after a few dozen layers.
 */
import { execFile } from 'node:child_process'
import { lstat, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { applyMeta } from '../metadata.ts'
import { OverlayMountError } from '../errors.ts'
import { findInPath } from '../runtime.ts'

const execFileAsync = promisify(execFile)

/** The longest `-o` string mount(2) takes: one page. */
const MAX_OPTIONS = 4095

export interface OverlayDirs {
  /** The mount point (the bundle's `rootfs`). */
  target: string
  /** The unpacked layers, the bottom layer first (as the image lists them). */
  layers: string[]
  upper: string
  work: string
}

async function mountCommand (args: string[], cwd?: string): Promise<void> {
  try {
    await execFileAsync(args[0] as string, args.slice(1), { timeout: 30_000, ...(cwd !== undefined ? { cwd } : {}) })
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? '').trim()
    throw new OverlayMountError(args.at(-1) ?? '', stderr !== '' ? stderr : (err as Error).message, err)
  }
}

/** The `-o` string for `dirs`, with the layers named relative to their common directory; throws OverlayMountError. */
export function overlayOptions (dirs: OverlayDirs): string {
  // overlayfs lists lowerdir top first; the image lists its layers bottom first.
  const lower = [...dirs.layers].reverse().map(dir => basename(dir)).join(':')
  const options = `lowerdir=${lower},upperdir=${dirs.upper},workdir=${dirs.work}`
  if (options.length > MAX_OPTIONS) throw new OverlayMountError(dirs.target, `${dirs.layers.length} layers make mount options longer than ${MAX_OPTIONS} bytes`)
  return options
}

/**
 * Mounts the view: creates upper, work and the mount point, gives the upper root the owner, mode and times of
 * the top layer's root (the merged root shows the upper one), and mounts. Throws OverlayMountError.
 */
export async function mountOverlay (dirs: OverlayDirs, cacheDir: string): Promise<void> {
  const options = overlayOptions(dirs)
  for (const dir of [dirs.upper, dirs.work, dirs.target]) await mkdir(dir, { recursive: true, mode: 0o755 })
  const top = dirs.layers.at(-1)
  if (top !== undefined) {
    const info = await lstat(top)
    applyMeta(dirs.upper, { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777, atime: info.atime, mtime: info.mtime }, { isSymlink: false, chown: true })
  }
  await mountCommand(['mount', '-t', 'overlay', 'overlay', '-o', options, dirs.target], cacheDir)
}

/** Unescapes a mountinfo path (octal escapes for space, tab, newline, backslash). */
function unescapeMountPath (field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** True when `path` is a mount point in this process's mount namespace. */
export async function isMountPoint (path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  return info.split('\n').some(line => unescapeMountPath(line.split(' ')[4] ?? '') === path)
}

/** Unmounts `path` when something is mounted there; a no-op otherwise. Throws OverlayMountError. */
export async function unmountIfMounted (path: string): Promise<boolean> {
  if (!await isMountPoint(path)) return false
  await mountCommand(['umount', path])
  return true
}

let probed: Promise<string | undefined> | undefined

/**
 * Whether overlayfs can be mounted with upper and lower directories under `dir` (root, a kernel with
 * overlayfs, and a filesystem it accepts as upper: not overlayfs itself). Resolves with the reason it cannot,
 * or undefined when it can; asked once per process.
 */
export async function overlayUnavailable (dir: string): Promise<string | undefined> {
  probed ??= (async () => {
    if (process.getuid?.() !== 0) return 'mounting overlayfs needs root'
    // Opaque directories are marked with an xattr, which Node cannot set.
    if (await findInPath('setfattr', process.env.PATH ?? '') === undefined) return 'setfattr is not installed (Debian package attr)'
    await mkdir(dir, { recursive: true })
    const probe = await mkdtemp(join(dir, '.probe.'))
    const target = join(probe, 'm')
    try {
      for (const sub of ['l', 'u', 'w', 'm']) await mkdir(join(probe, sub))
      await mountCommand(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=l,upperdir=${join(probe, 'u')},workdir=${join(probe, 'w')}`, target], probe)
      await mountCommand(['umount', target])
      return undefined
    } catch (err) {
      return (err as Error).message
    } finally {
      await unmountIfMounted(target).catch(() => {})
      await rm(probe, { recursive: true, force: true })
    }
  })()
  return await probed
}
