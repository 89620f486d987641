/**
 * The demo (`npm start`): what Emergence does, step by step, on the default local store
 * ($EMERGENCE_DATA_DIR, else $XDG_DATA_HOME/emergence, else ~/.local/share/emergence).
 * Every step runs the real `emergence` CLI, so each line shown is a command you can type yourself.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { join, dirname } from 'node:path'
import { defaultDataDir } from '../src/store/paths.ts'
import { startNode, stopAll, type ClusterNode } from './lib/cluster.ts'
import { buildBusyboxImage } from './lib/busybox-image.ts'
import { startContainerd } from './lib/containerd.ts'
import { freePort } from './lib/ports.ts'

const ROOT = join(dirname(import.meta.filename), '..')
const EMERGENCE = join(ROOT, 'bin', 'emergence')

function step (title: string): void {
  // Bold on a terminal only: a log file or a pipe gets plain text.
  process.stdout.write(process.stdout.isTTY ? `\n\x1b[1m== ${title}\x1b[0m\n` : `\n== ${title}\n`)
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

/** Runs an emergence command on a cluster node, echoing it; fails unless its exit code is expected. */
async function demoCli (node: ClusterNode, args: string[], dataDir: string, expected = [0]): Promise<void> {
  process.stdout.write(`$ emergence --data-dir ${dataDir} ${args.join(' ')}\n`)
  const result = await node.cli(args)
  process.stdout.write(result.stdout)
  if (!expected.includes(result.status ?? -1)) throw new Error(`emergence ${args.join(' ')} failed: ${result.stderr.trim()}`)
}

/** A two-path Nix closure (a busybox and a script using it), built with nix-build from a plain derivation. */
function buildClosure (work: string): string {
  const expression = join(work, 'hello.nix')
  writeFileSync(expression, `
let
  drv = name: script: deps: builtins.derivation ({ inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ]; } // deps);
  bb = drv "emergence-demo-busybox" "/bin/mkdir -p $out/bin && /bin/cp /bin/busybox $out/bin/busybox" {};
in drv "emergence-demo-hello" ''
  /bin/mkdir -p $out/bin
  printf '#!%s/bin/busybox sh\\necho "hello from a Nix closure, running under runc"\\n' $bb > $out/bin/hello
  /bin/chmod 555 $out/bin/hello
'' { inherit bb; }
`)
  const out = run('nix-build', [expression, '-o', join(work, 'result'), '--option', 'substituters', '', '--option', 'sandbox', 'false'], { env: nixEnv() })
  return out.trim().split('\n').at(-1) ?? ''
}

function nixEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NIX_REMOTE'))
}

async function main (): Promise<void> {
  for (const tool of ['umoci', 'skopeo', 'runc', 'nix-build', 'containerd', 'ctr']) requireTool(tool)
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: run scripts/setup.sh first (busybox-static)')
  const work = await mkdtemp(join(tmpdir(), 'emergence-demo-'))
  const nodes: ClusterNode[] = []
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
    // Nodes 2 and 3 keep their own Nix stores (chroot stores), so that the closure really moves between stores.
    const first = await startNode({ dataDir })
    nodes.push(first)
    nodes.push(...await Promise.all(others.map(async dir => await startNode({
      dataDir: dir, bootstrap: [first.address], trusted: [first.peerId], extraArgs: ['--nix-store', join(dir, 'nix-store'), '--nix-cache', '127.0.0.1:0']
    }))))
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

    step('Build a small Nix closure, share it from node 1, and pull it into node 2\'s own Nix store')
    const hello = buildClosure(work)
    await demoCli(nodes[0]!, ['nix', 'share', hello], dataDir)
    await demoCli(nodes[1]!, ['nix', 'pull', hello], others[0] ?? '')
    run('nix-store', ['--store', join(others[0] ?? '', 'nix-store'), '--verify-path', hello])
    process.stdout.write('nix-store --verify-path: ok in node 2\'s store\n')

    step('Node 1 runs the closure with runc: only its store paths are mounted')
    await demoCli(nodes[0]!, ['run', '--rm', `${hello}/bin/hello`], dataDir, [0, 3])

    step('Build images on node 1: the closure as one layer per store path, and busybox plus a directory')
    await demoCli(nodes[0]!, ['image', 'from-nix', hello, '-t', 'demo/hello-image:1'], dataDir)
    const site = join(work, 'site')
    await mkdir(site)
    writeFileSync(join(site, 'index.html'), 'hello from a built image\n')
    await demoCli(nodes[0]!, ['image', 'build', '--from', 'demo/busybox:1', '--add', `${site}:/srv`, '--cmd', '["-c","cat /srv/index.html"]', '-t', 'demo/site:1'], dataDir)

    step('Node 3 pulls the built images and runs them (no Nix store needed for the closure image)')
    for (const ref of ['demo/hello-image:1', 'demo/site:1']) {
      await demoCli(nodes[2]!, ['pull', ref], others[1] ?? '')
      await demoCli(nodes[2]!, ['run', '--rm', ref], others[1] ?? '')
    }

    step('Cluster sync: node 1 puts an image in the desired set; nodes 2 and 3 pull it by themselves')
    await demoCli(nodes[0]!, ['sync', 'add', 'demo/site:1'], dataDir)
    for (const [i, node] of nodes.slice(1).entries()) await demoCli(node, ['sync', 'status', '--wait', '--timeout', '120'], others[i] ?? '')

    step('Bootstrap: a fresh node 4, given only node 2\'s address, learns the set and pulls it from its peers')
    const freshDir = join(dataDir, 'demo-cluster', 'node4')
    await rm(freshDir, { recursive: true, force: true })
    const mirror = `127.0.0.1:${await freePort()}`
    const fresh = await startNode({ dataDir: freshDir, bootstrap: [nodes[1]!.address], trusted: [first.peerId], extraArgs: ['--nix-cache', 'off', '--registry', mirror, '--admin', 'off'] })
    nodes.push(fresh)
    await demoCli(fresh, ['sync', 'status', '--wait', '--timeout', '120'], freshDir)
    await demoCli(fresh, ['run', '--rm', 'demo/site:1'], freshDir)

    step('containerd pulls through node 4\'s registry mirror, configured by hosts.toml alone: the image comes from peers')
    const hostsDir = join(work, 'certs.d')
    const registryHost = 'registry.demo.invalid'   // no such registry: every byte comes through the mirror
    await demoCli(fresh, ['containerd', 'configure', '--config-path', hostsDir, '--registry-host', registryHost, '--server', 'http://127.0.0.1:9', '--mirror', `http://${mirror}`], freshDir)
    const containerd = await startContainerd(join(work, 'containerd'))
    try {
      process.stdout.write(`$ ctr images pull --hosts-dir ${hostsDir} ${registryHost}/demo/busybox:1\n`)
      await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, `${registryHost}/demo/busybox:1`])
      process.stdout.write(await containerd.ctr(['images', 'ls']))
      process.stdout.write(`$ ctr run --rm ${registryHost}/demo/busybox:1 demo /bin/busybox echo ...\n`)
      process.stdout.write(await containerd.ctr(['run', '--rm', `${registryHost}/demo/busybox:1`, `emergence-demo-${process.pid}`, '/bin/busybox', 'echo', 'hello from containerd, through the mirror']))
    } finally {
      await containerd.stop()
    }

    step('Node 1 runs an automaton that counts in its state directory; it migrates to node 2 with its state')
    const counterSpec = join(work, 'counter.json')
    const count = 'trap "exit 0" TERM; n=$(cat /state/n 2>/dev/null || echo 0); while true; do n=$((n+1)); echo $n > /state/n; echo count $n; sleep 0.2; done'
    writeFileSync(counterSpec, JSON.stringify({ name: 'demo-counter', artefact: 'demo/busybox:1', state: '/state', process: { args: ['/bin/sh', '-c', count] } }))
    for (const cleanup of ['stop', 'rm']) await first.cli(['automaton', cleanup, 'demo-counter'])   // left by an interrupted earlier run, if any
    await demoCli(nodes[0]!, ['automaton', 'start', counterSpec], dataDir)
    await sleep(1500)
    await demoCli(nodes[0]!, ['automaton', 'migrate', 'demo-counter', '--to', nodes[1]!.address, '--stop-timeout', '5'], dataDir)
    await sleep(1000)
    await demoCli(nodes[1]!, ['automaton', 'logs', 'demo-counter'], others[0] ?? '')   // counts on from where node 1 stopped
    await demoCli(nodes[1]!, ['automaton', 'rm', 'demo-counter'], others[0] ?? '')

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
