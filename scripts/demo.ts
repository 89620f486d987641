/**
 * The demo (`npm start`): what Emergence does, step by step, on the default local store
 * ($EMERGENCE_DATA_DIR, else $XDG_DATA_HOME/emergence, else ~/.local/share/emergence).
 * Every step runs the real `emergence` CLI, so each line shown is a command you can type yourself.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { mkdtemp, rm, cp, symlink, mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'

const ROOT = join(dirname(import.meta.filename), '..')
const EMERGENCE = join(ROOT, 'bin', 'emergence')

function step (title: string): void {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`)
}

/** Runs a command, echoing it; stops the demo with its message when it fails. */
function run (command: string, args: string[], options: SpawnSyncOptions = {}): string {
  process.stdout.write(`$ ${[command === EMERGENCE ? 'emergence' : command, ...args].join(' ')}\n`)
  const result = spawnSync(command, args, { encoding: 'utf8', ...options })
  const out = String(result.stdout ?? '')
  process.stdout.write(out)
  if (result.status !== 0) {
    process.stderr.write(String(result.stderr ?? ''))
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${String(result.status)}`)
  }
  return out
}

function requireTool (tool: string): void {
  if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is not installed: run scripts/setup.sh first`)
}

/** A tiny busybox image built with umoci: the automaton the later steps move and run. */
async function buildBusyboxImage (work: string): Promise<string> {
  const layout = join(work, 'layout')
  run('umoci', ['init', '--layout', layout])
  run('umoci', ['new', '--image', `${layout}:1`])
  const bundle = join(work, 'bundle')
  run('umoci', ['unpack', '--image', `${layout}:1`, bundle], { stdio: ['ignore', 'ignore', 'pipe'] })
  const bin = join(bundle, 'rootfs', 'bin')
  await mkdir(bin, { recursive: true })
  await cp('/bin/busybox', join(bin, 'busybox'))
  for (const applet of ['sh', 'echo', 'cat', 'ls']) await symlink('busybox', join(bin, applet))
  run('umoci', ['repack', '--image', `${layout}:1`, bundle])
  run('umoci', ['config', '--image', `${layout}:1`, '--config.entrypoint', '/bin/sh', '--config.cmd', '-c', '--config.cmd', 'echo hello from an emergence automaton'])
  return layout
}

async function main (): Promise<void> {
  for (const tool of ['umoci', 'skopeo']) requireTool(tool)
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: run scripts/setup.sh first (busybox-static)')
  const work = await mkdtemp(join(tmpdir(), 'emergence-demo-'))
  try {
    step('Where the store lives (an OCI image layout: skopeo and umoci read it directly)')
    run(EMERGENCE, ['store', 'path'])

    step('Build a small busybox image with umoci and import it')
    const layout = await buildBusyboxImage(work)
    run(EMERGENCE, ['image', 'import', `${layout}:1`, '--name', 'demo/busybox:1'])
    run(EMERGENCE, ['image', 'import', `${layout}:1`, '--name', 'demo/busybox:latest'])
    run(EMERGENCE, ['image', 'ls'])

    step('Export it as an OCI layout and read it back with skopeo')
    const exported = join(work, 'exported')
    run(EMERGENCE, ['image', 'export', 'demo/busybox:1', exported])
    run('skopeo', ['inspect', '--format', '{{.Digest}} {{len .Layers}} layer(s)', `oci:${exported}:demo/busybox:1`])

    step('Remove a tag, collect garbage (shared blobs stay), verify every blob')
    run(EMERGENCE, ['image', 'rm', 'demo/busybox:latest'])
    run(EMERGENCE, ['gc', '--grace', '0'])
    run(EMERGENCE, ['store', 'verify'])
    process.stdout.write('\ndemo finished\n')
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

try {
  await main()
} catch (err) {
  process.stderr.write(`demo: error: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
