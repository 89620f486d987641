/**
 * The fault suite's test bench: hosts in network namespaces on one bridge (`scripts/bench/anchors/netns-lib.sh`,
 * addresses 198.18.0.0/24, only ever inside these namespaces), one `emergence node start` process per host with
 * its own data dir, and the faults: a link cut, shaped or made lossy, a process SIGKILLed, a data dir on a small
 * tmpfs. A `Lab` belongs to one test: its `close()` (registered with `t.after`, so it runs on failure too) stops
 * every process it started by that process's own pid, unmounts what it mounted, removes its namespaces, the
 * bridge and its temp dir. Each test file uses its own namespace prefix, so files may run at the same time.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { startNode, type ClusterNode } from '../../../scripts/lib/cluster.ts'
import { controlRequest } from '../../../src/daemon/control-client.ts'
import { socketPath } from '../../../src/daemon/socket-path.ts'
import { REPO_ROOT, runCommand, tool } from '../../helpers/tools.ts'

const NETNS_LIB = join(REPO_ROOT, 'scripts', 'bench', 'anchors', 'netns-lib.sh')

export interface Host {
  /** 1-based, as netns-lib.sh numbers hosts. */
  index: number
  ns: string
  ip: string
  /** The host's end of its link on the bridge, in the root namespace: shaping it shapes the host's downloads. */
  veth: string
  /** Command prefix that runs a command on this host. */
  wrap: string[]
}

export interface HostNode extends ClusterNode {
  host: Host
}

export interface StartOptions {
  dataDir?: string
  bootstrap?: HostNode[]
  trusted?: HostNode[]
}

/** Runs `netns-lib.sh` functions with the lab's prefix. */
async function netnsLib (prefix: string, script: string): Promise<void> {
  const result = await runCommand('bash', ['-c', `source ${NETNS_LIB}; ${script}`], { env: { ...process.env, PFX: prefix } })
  if (result.code !== 0) throw new Error(`netns-lib.sh ${script} failed: ${result.stderr.trim()}`)
}

export class Lab {
  readonly hosts: Host[]
  readonly work: string
  private readonly prefix: string
  private readonly nodes: HostNode[] = []
  private readonly mounts: string[] = []

  private constructor (prefix: string, hosts: Host[], work: string) {
    this.prefix = prefix
    this.hosts = hosts
    this.work = work
  }

  /** `count` hosts named `<prefix>h1...`, no rate caps yet; torn down after the test, whatever happens. */
  static async open (t: TestContext, prefix: string, count: number): Promise<Lab> {
    const work = await mkdtemp(join(tmpdir(), `emergence-${prefix}-`))
    const hosts = Array.from({ length: count }, (_, i) => {
      const ns = `${prefix}h${i + 1}`
      return { index: i + 1, ns, ip: `198.18.0.${i + 2}`, veth: `${prefix}v${i + 1}`, wrap: ['ip', 'netns', 'exec', ns] }
    })
    const lab = new Lab(prefix, hosts, work)
    t.after(async () => { await lab.close() })
    // Leftovers of a run that was itself killed would make `ip netns add` fail.
    await netnsLib(prefix, `hosts_down; hosts_up ${count} none`)
    return lab
  }

  host (index: number): Host {
    const host = this.hosts[index - 1]
    if (host === undefined) throw new Error(`no host ${index}`)
    return host
  }

  /** Starts `emergence node start` on a host, listening on the host's address; stopped by `close()`. */
  async start (host: Host, options: StartOptions = {}): Promise<HostNode> {
    const dataDir = options.dataDir ?? join(this.work, host.ns)
    const node = await startNode({
      dataDir,
      listen: `/ip4/${host.ip}/tcp/7701`,
      bootstrap: (options.bootstrap ?? []).map(n => n.address),
      trusted: (options.trusted ?? []).map(n => n.peerId),
      extraArgs: ['--nix-cache', 'off'],
      wrap: host.wrap,
      timeoutMs: 60_000
    })
    const hostNode = { ...node, host }
    this.nodes.push(hostNode)
    return hostNode
  }

  /** SIGKILLs a node's process (its own pid) and waits until it is gone. */
  async kill (node: HostNode): Promise<void> {
    const child = node.process
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  /** Upload (`up`, the host's egress) and download (`down`) caps, e.g. `40mbit`: transfers last long enough to cut. */
  async shape (host: Host, rates: { up?: string, down?: string }): Promise<void> {
    const tbf = (rate: string): string[] => ['root', 'tbf', 'rate', rate, 'burst', '256kbit', 'latency', '100ms']
    if (rates.up !== undefined) await tool('ip', ['netns', 'exec', host.ns, 'tc', 'qdisc', 'replace', 'dev', 'eth0', ...tbf(rates.up)])
    if (rates.down !== undefined) await tool('tc', ['qdisc', 'replace', 'dev', host.veth, ...tbf(rates.down)])
  }

  /** Cuts (or restores) a host's link: its end of the veth goes down, so its packets are silently lost. */
  async setLink (host: Host, up: boolean): Promise<void> {
    await tool('ip', ['link', 'set', host.veth, up ? 'up' : 'down'])
  }

  /**
   * A slow lossy link on `host`: `netem delay 100ms loss 5%` on its egress where the kernel has sch_netem.
   * Kernels without it (CI's) get the closest the kernel allows: 5% of packets dropped at random both ways
   * (iptables `statistic`) and downloads through a 50 mbit token bucket whose 100 ms queue is the delay.
   */
  async impair (host: Host): Promise<'netem' | 'iptables+tbf'> {
    const netem = await runCommand('ip', ['netns', 'exec', host.ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', '100ms', 'loss', '5%'])
    if (netem.code === 0) return 'netem'
    for (const chain of ['INPUT', 'OUTPUT']) {
      await tool('ip', ['netns', 'exec', host.ns, 'iptables', '-A', chain, '-m', 'statistic', '--mode', 'random', '--probability', '0.05', '-j', 'DROP'])
    }
    await this.shape(host, { down: '50mbit' })
    return 'iptables+tbf'
  }

  /** A tmpfs of `size` (e.g. `48m`) mounted at a fresh directory; unmounted by `close()`. */
  async tmpfs (size: string): Promise<string> {
    const dir = join(this.work, `tmpfs-${this.mounts.length}`)
    await mkdir(dir)
    await tool('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
    this.mounts.push(dir)
    return dir
  }

  async close (): Promise<void> {
    await Promise.all(this.nodes.map(async node => { await node.stop() }))
    for (const dir of this.mounts) await runCommand('umount', ['-l', dir])
    await netnsLib(this.prefix, 'hosts_down').catch(() => undefined)
    await rm(this.work, { recursive: true, force: true })
  }
}

/** The node's control API, as the CLI reaches it (a unix socket in the data dir, whatever its namespace). */
export async function control<T> (node: HostNode, path: string): Promise<T> {
  return await controlRequest(socketPath(node.dataDir), 'GET', path) as T
}

/**
 * Waits until `condition` holds, checking every 50 ms, for at most `timeoutMs`: every wait in the suite is for
 * an event (bytes served, pieces saved, a process gone), bounded so that a regression fails instead of hanging.
 */
export async function waitFor (what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
