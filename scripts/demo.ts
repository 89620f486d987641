/**
 * The demo (`npm start`): what Emergence does, step by step, on the default local store
 * ($EMERGENCE_DATA_DIR, else $XDG_DATA_HOME/emergence, else ~/.local/share/emergence).
 * Every step runs the real `emergence` CLI, so each line shown is a command you can type yourself.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { defaultDataDir } from '../src/store/paths.ts'
import { startCluster, stopAll, type ClusterNode } from './lib/cluster.ts'
import { buildBusyboxImage } from './lib/busybox-image.ts'

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

async function main (): Promise<void> {
  for (const tool of ['umoci', 'skopeo']) requireTool(tool)
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: run scripts/setup.sh first (busybox-static)')
  const work = await mkdtemp(join(tmpdir(), 'emergence-demo-'))
  let nodes: ClusterNode[] = []
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

    step('Start a three-node cluster on loopback: this store is node 1, nodes 2 and 3 start empty')
    const dataDir = process.env.EMERGENCE_DATA_DIR ?? defaultDataDir()
    const others = [join(dataDir, 'demo-cluster', 'node2'), join(dataDir, 'demo-cluster', 'node3')]
    for (const dir of others) await rm(dir, { recursive: true, force: true })
    nodes = await startCluster([dataDir, ...others])
    for (const [i, node] of nodes.entries()) process.stdout.write(`node ${i + 1}: ${node.address}\n`)

    step('Nodes 2 and 3 pull the image at the same time, piece by piece from every peer that has it')
    const pulls = await Promise.all(nodes.slice(1).map(async node => await node.cli(['pull', 'demo/busybox:1'])))
    for (const [i, pull] of pulls.entries()) {
      process.stdout.write(`$ emergence --data-dir ${others[i] ?? ''} pull demo/busybox:1\n${pull.stdout}`)
      if (pull.status !== 0) throw new Error(`pull on node ${i + 2} failed: ${pull.stderr.trim()}`)
    }
    process.stdout.write((await nodes[0]!.cli(['node', 'status'])).stdout)

    step('Node 3 runs the automaton it just pulled, with the local runc')
    const ran = await nodes[2]!.cli(['run', '--rm', 'demo/busybox:1'])
    process.stdout.write(`$ emergence --data-dir ${others[1] ?? ''} run --rm demo/busybox:1\n${ran.stdout}`)
    if (ran.status !== 0) throw new Error(`run failed: ${ran.stderr.trim()}`)

    step('Remove a tag, collect garbage (shared blobs stay), verify every blob')
    run(EMERGENCE, ['image', 'rm', 'demo/busybox:latest'])
    run(EMERGENCE, ['gc', '--grace', '0'])
    run(EMERGENCE, ['store', 'verify'])
    process.stdout.write('\ndemo finished\n')
  } finally {
    await stopAll(nodes)
    await rm(work, { recursive: true, force: true })
  }
}

try {
  await main()
} catch (err) {
  process.stderr.write(`demo: error: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
