/**
 * Long-running tools for the registry tests (Debian's docker-registry, containerd): started with their output
 * kept for the failure message, waited for until they answer (the test's timeout bounds the wait), and stopped by
 * PID when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { freePort } from '../../../scripts/lib/ports.ts'
import { processAlive } from '../../../src/util/fs.ts'
import { runCli, tool } from '../../helpers/tools.ts'

export function background (t: TestContext, command: string, args: string[], log: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.on('data', (c: Buffer) => log.push(c.toString()))
  child.stderr?.on('data', (c: Buffer) => log.push(c.toString()))
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    process.kill(child.pid, 'SIGTERM')
    await exited
  })
  return child
}

/** Retries `probe` until it succeeds, failing at once if the process exits. */
export async function ready (probe: () => Promise<boolean>, child: ChildProcess, log: string[]): Promise<void> {
  while (!await probe()) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${log.join('').slice(-2000)}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * Debian's docker-registry on loopback with its storage in `dir`; with `user`, htpasswd basic auth (the bcrypt
 * hash from Python's crypt, which uses the system's libcrypt: no apache2-utils needed). Returns `host:port`.
 */
export async function startDockerRegistry (t: TestContext, dir: string, user?: { name: string, password: string }): Promise<string> {
  await mkdir(dir, { recursive: true })
  const port = await freePort()
  const lines = ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`, 'http:', `  addr: 127.0.0.1:${port}`]
  if (user !== undefined) {
    const script = 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))'
    const hash = (await tool('python3', ['-W', 'ignore', '-c', script, user.password])).trim()
    await writeFile(join(dir, 'htpasswd'), `${user.name}:${hash}\n`)
    lines.push('auth:', '  htpasswd:', '    realm: emergence-test', `    path: ${join(dir, 'htpasswd')}`)
  }
  await writeFile(join(dir, 'registry.yml'), lines.join('\n') + '\n')
  const log: string[] = []
  const child = background(t, 'docker-registry', ['serve', join(dir, 'registry.yml')], log)
  const probe = async (): Promise<boolean> => [200, 401].includes((await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined))?.status ?? 0)
  await ready(probe, child, log)
  return `127.0.0.1:${port}`
}

export interface DetachedNode {
  pid: number
  peerId: string
  addresses: string[]
  registry?: string
}

/**
 * A detached node (compiled CLI, a real daemon process) on loopback with `args` added to `node start`, stopped
 * (and killed if need be) after the test.
 */
export async function startDetachedNode (t: TestContext, dataDir: string, args: string[]): Promise<DetachedNode> {
  const started = await runCli(['--json', 'node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--nix-cache', 'off', ...args], { dataDir })
  if (started.code !== 0) throw new Error(`node start exited ${String(started.code)}: ${started.stderr}`)
  const status = (JSON.parse(started.stdout) as { started: DetachedNode }).started
  t.after(async () => {
    await runCli(['node', 'stop'], { dataDir })
    if (processAlive(status.pid)) process.kill(status.pid, 'SIGKILL')
  })
  return status
}
