/**
 * A local cluster of Emergence nodes, each a separate `emergence node start` process with its own data dir,
 * listening on loopback (or inside a network namespace via `wrap`). Used by the demo, the end-to-end tests and
 * the benchmarks; every process is stopped by `stop()`, and killed if it does not exit.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { join, dirname } from 'node:path'
import { createInterface } from 'node:readline'

export const EMERGENCE_BIN = join(dirname(import.meta.filename), '..', '..', 'bin', 'emergence')

export interface ClusterNode {
  dataDir: string
  peerId: string
  address: string
  process: ChildProcess
  /** Runs `emergence --data-dir <dir> ...args` to completion (inside the node's namespace when wrapped). */
  cli: (args: string[], options?: { json?: boolean }) => Promise<CliResult>
  stop: () => Promise<void>
}

export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs a command to completion, collecting its output. */
export async function runToEnd (cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'close') as [number | null]
  return { status: code, stdout, stderr }
}

export interface StartNodeOptions {
  dataDir: string
  listen?: string
  bootstrap?: string[]
  allow?: string[]
  /** Peer ids trusted to resolve name:tag (`--trusted`); a node trusts nobody for tags by default. */
  trusted?: string[]
  extraArgs?: string[]
  /** Prefix for the command, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  wrap?: string[]
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

function command (wrap: string[] | undefined, args: string[]): [string, string[]] {
  const full = [...(wrap ?? []), EMERGENCE_BIN, ...args]
  return [full[0] as string, full.slice(1)]
}

/** Starts one node and waits for the JSON line that gives its peer id and addresses. */
export async function startNode (options: StartNodeOptions): Promise<ClusterNode> {
  const args = ['--data-dir', options.dataDir, '--json', 'node', 'start', '--no-mdns', '--listen', options.listen ?? '/ip4/127.0.0.1/tcp/0']
  if (options.bootstrap !== undefined && options.bootstrap.length > 0) args.push('--bootstrap', options.bootstrap.join(','))
  if (options.allow !== undefined && options.allow.length > 0) args.push('--allow', options.allow.join(','))
  if (options.trusted !== undefined && options.trusted.length > 0) args.push('--trusted', options.trusted.join(','))
  args.push(...(options.extraArgs ?? []))
  const [cmd, cmdArgs] = command(options.wrap, args)
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  const started = await new Promise<{ peerId: string, addresses: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`node in ${options.dataDir} did not start: ${stderr}`)) }, options.timeoutMs ?? 30_000)
    let text = ''
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', line => {
      text += line + '\n'
      try {
        const parsed = JSON.parse(text) as { started?: { peerId: string, addresses: string[] } }
        if (parsed.started !== undefined) { clearTimeout(timer); resolve(parsed.started) }
      } catch { /* the JSON object spans several lines */ }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`node in ${options.dataDir} exited with ${String(code)}: ${stderr}`)) })
  })
  const address = started.addresses[0]
  if (address === undefined) throw new Error(`node in ${options.dataDir} has no address`)
  const node: ClusterNode = {
    dataDir: options.dataDir,
    peerId: started.peerId,
    address,
    process: child,
    cli: async (cliArgs, cliOptions = {}) => {
      const [c, a] = command(options.wrap, ['--data-dir', options.dataDir, ...(cliOptions.json === true ? ['--json'] : []), ...cliArgs])
      return await runToEnd(c, a, options.env)
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
  return node
}

/** Starts `count` nodes; every node after the first bootstraps from the first and trusts it to resolve tags. */
export async function startCluster (dataDirs: string[], options: Omit<StartNodeOptions, 'dataDir' | 'bootstrap'> = {}): Promise<ClusterNode[]> {
  const nodes: ClusterNode[] = []
  try {
    const [firstDir, ...rest] = dataDirs
    if (firstDir === undefined) return nodes
    const first = await startNode({ ...options, dataDir: firstDir })
    nodes.push(first)
    nodes.push(...await Promise.all(rest.map(async dataDir => await startNode({ ...options, dataDir, bootstrap: [first.address], trusted: [first.peerId] }))))
    return nodes
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
}

export async function stopAll (nodes: ClusterNode[]): Promise<void> {
  await Promise.all(nodes.map(async n => { await n.stop() }))
}
