/**
 * Debian's containerd (1.6) as a private instance: run as root with its own config, root, state and sockets in
 * one directory (the CRI plugin off), optionally inside a network namespace (`wrap`), so that several run side
 * by side without touching a system containerd. `ctr` runs in the same namespace: containerd 1.6's `ctr images
 * pull` fetches in the client, so the client's network is the one a pull uses. Used by the end-to-end tests, the
 * example and the registry benchmark; `stop()` ends it by its PID.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface Containerd {
  socket: string
  pid: number
  /** Runs `ctr -a <socket> ...args` (in the same namespace); throws with its stderr when it fails. */
  ctr: (args: string[]) => Promise<string>
  stop: () => Promise<void>
}

/** Runs `ctr -a socket args` to completion (wrapped: a pull's HTTP requests come from ctr itself in 1.6). */
async function ctr (socket: string, args: string[], wrap: string[]): Promise<string> {
  const [command, ...rest] = [...wrap, 'ctr', '-a', socket, ...args]
  const child = spawn(command as string, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const [code] = await once(child, 'close') as [number | null]
  if (code !== 0) throw new Error(`ctr ${args.join(' ')} exited ${String(code)}: ${stderr.trim()}`)
  return stdout
}

/** Starts containerd with everything under `dir`; resolves once it answers (or throws when it exits first). */
export async function startContainerd (dir: string, options: { wrap?: string[] } = {}): Promise<Containerd> {
  await mkdir(dir, { recursive: true })
  const socket = join(dir, 'containerd.sock')
  const config = join(dir, 'containerd.toml')
  await writeFile(config, [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    ''
  ].join('\n'))
  const [command, ...args] = [...(options.wrap ?? []), 'containerd', '--config', config]
  const child = spawn(command as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-4000) })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const exited = once(child, 'exit')
    process.kill(child.pid, 'SIGTERM')
    await exited
  }
  while (spawnSync('ctr', ['-a', socket, 'version'], { stdio: 'ignore' }).status !== 0) {
    if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}: ${log}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { socket, pid: child.pid as number, ctr: async args => await ctr(socket, args, options.wrap ?? []), stop }
}
