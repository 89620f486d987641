/**
 * A small busybox image built with umoci (Debian's busybox-static copied in, with a few applet links): the
 * automaton the demo, the end-to-end tests and the benchmarks move and run.
 */
import { spawnSync } from 'node:child_process'
import { cp, mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'

function umoci (args: string[]): void {
  const result = spawnSync('umoci', args, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`umoci ${args.join(' ')} failed: ${result.stderr.trim()}`)
}

/** Builds `<work>/layout:<tag>` whose entrypoint is `/bin/sh -c <script>`; returns the layout directory. */
export async function buildBusyboxImage (work: string, options: { tag?: string, script?: string } = {}): Promise<string> {
  const tag = options.tag ?? '1'
  const layout = join(work, 'layout')
  umoci(['init', '--layout', layout])
  umoci(['new', '--image', `${layout}:${tag}`])
  const bundle = join(work, 'bundle')
  umoci(['unpack', '--image', `${layout}:${tag}`, bundle])
  const bin = join(bundle, 'rootfs', 'bin')
  await mkdir(bin, { recursive: true })
  await cp('/bin/busybox', join(bin, 'busybox'))
  for (const applet of ['sh', 'echo', 'cat', 'ls', 'sleep']) await symlink('busybox', join(bin, applet))
  umoci(['repack', '--image', `${layout}:${tag}`, bundle])
  umoci(['config', '--image', `${layout}:${tag}`, '--config.entrypoint', '/bin/sh', '--config.cmd', '-c',
    '--config.cmd', options.script ?? 'echo hello from an emergence automaton'])
  return layout
}
