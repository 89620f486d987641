/**
 * The CLI as scripts use it: the compiled JavaScript in dist/ runs (no TypeScript at run time), light commands
 * load no libp2p, `node start --detach` returns once the node answers and `node stop` once its process is gone.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { processAlive } from '../../../src/util/fs.ts'
import { freePort } from '../../../scripts/lib/ports.ts'
import { assertCliError, runCli } from '../../helpers/tools.ts'

/** A loader hook that writes every module URL the process loads to `$MODULES_OUT`, one per line. */
const RECORDER = `
import { registerHooks } from 'node:module'
import { appendFileSync } from 'node:fs'
registerHooks({
  load (url, context, next) {
    appendFileSync(process.env.MODULES_OUT, url + '\\n')
    return next(url, context)
  }
})
`

describe('CLI start-up', () => {
  let dir: string
  let recorder: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-startup-'))
    recorder = join(dir, 'record-modules.mjs')
    await writeFile(recorder, RECORDER)
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  /** The module URLs a CLI run loads. */
  async function modulesLoadedBy (args: string[], name: string): Promise<string[]> {
    const out = join(dir, `${name}.modules`)
    const result = await runCli(args, { dataDir: join(dir, 'data'), env: { NODE_OPTIONS: `--import=${recorder}`, MODULES_OUT: out } })
    const modules = (await readFile(out, 'utf8').catch(() => '')).split('\n').filter(line => line !== '')
    assert.ok(modules.length > 0, `no modules recorded: ${result.stderr}`)
    return modules
  }

  for (const [name, args] of [['version', ['--version']], ['image-ls', ['image', 'ls']], ['node-status', ['node', 'status']]] as const) {
    it(`\`${args.join(' ')}\` runs compiled JavaScript and loads no libp2p, pino or prom-client`, async () => {
      const modules = await modulesLoadedBy([...args], name)
      assert.ok(modules.some(url => url.endsWith('/dist/cli/main.js')), 'the CLI runs from dist/')
      assert.deepEqual(modules.filter(url => url.endsWith('.ts')), [], 'no TypeScript at run time')
      assert.deepEqual(modules.filter(url => /libp2p|@chainsafe/.test(url)), [])
      assert.deepEqual(modules.filter(url => /\/node_modules\/(pino|prom-client)\//.test(url)), [], 'nothing logged, no logger loaded')
    })
  }

  it('`node start --detach` returns once the node answers; `node stop` returns once it is gone', async () => {
    const dataDir = join(dir, 'detached')
    const started = await runCli(['--json', 'node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { dataDir })
    assert.equal(started.code, 0, started.stderr)
    const { started: status, log } = JSON.parse(started.stdout) as { started: { pid: number, peerId: string }, log: string }
    try {
      assert.ok(processAlive(status.pid))
      assert.equal(log, join(dataDir, 'node.log'))
      // Answers at once: no retry, no sleep.
      const query = await runCli(['--json', 'node', 'status'], { dataDir })
      assert.equal(query.code, 0, query.stderr)
      assert.equal((JSON.parse(query.stdout) as { peerId: string }).peerId, status.peerId)

      const stopped = await runCli(['--json', 'node', 'stop'], { dataDir })
      assert.equal(stopped.code, 0, stopped.stderr)
      assert.equal(processAlive(status.pid), false, 'the process is gone when stop returns')
      assert.equal(existsSync(join(dataDir, 'emergence.sock')), false)
    } finally {
      if (processAlive(status.pid)) process.kill(status.pid, 'SIGKILL')
    }
  })

  it('`node start --detach` fails with the node\'s own error line when the node cannot start', async () => {
    const result = await runCli(['node', 'start', '--detach', '--no-mdns', '--listen', 'not-a-multiaddr'], { dataDir: join(dir, 'bad') })
    const line = assertCliError(result)
    assert.match(line, /exited before it was ready: .*multiaddr/)
    assert.equal(existsSync(join(dir, 'bad', 'emergence.sock')), false)
  })

  it('`--lane-port` puts the data lane on a fixed port, or turns it off', async () => {
    const free = await freePort()
    const fixed = await startDetached(join(dir, 'lane-fixed'), ['--lane-port', String(free)])
    const off = await startDetached(join(dir, 'lane-off'), ['--lane-port', 'off'])
    try {
      assert.equal(fixed.lanePort, free)
      assert.equal(off.lanePort, undefined)
      const text = await runCli(['node', 'status'], { dataDir: join(dir, 'lane-off') })
      assert.match(text.stdout, /^data lane off$/m)
    } finally {
      for (const name of ['lane-fixed', 'lane-off']) await runCli(['node', 'stop'], { dataDir: join(dir, name) })
    }
    assertCliError(await runCli(['node', 'start', '--lane-port', 'seventy'], { dataDir: join(dir, 'lane-bad') }))
  })

  /** Starts a detached node on loopback and returns its status. */
  async function startDetached (dataDir: string, extra: string[]): Promise<{ pid: number, lanePort?: number }> {
    const started = await runCli(['--json', 'node', 'start', '--detach', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], { dataDir })
    assert.equal(started.code, 0, started.stderr)
    return (JSON.parse(started.stdout) as { started: { pid: number, lanePort?: number } }).started
  }

  it('a listen port in use is one line naming the address, with no stack and no libp2p internals', async () => {
    const holder = createServer()
    await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
    try {
      const port = (holder.address() as { port: number }).port
      const result = await runCli(['node', 'start', '--no-mdns', '--listen', `/ip4/127.0.0.1/tcp/${port}`], { dataDir: join(dir, 'in-use') })
      const line = assertCliError(result)
      assert.match(line, new RegExp(`cannot listen on /ip4/127.0.0.1/tcp/${port}: the address is in use`))
      assert.doesNotMatch(line, /faultTolerance|node:net/)
    } finally {
      await new Promise(resolve => holder.close(resolve))
    }
  })

  for (const [flag, key, what] of [['--nix-cache', 'nixCache', 'Nix binary cache'], ['--registry', 'registry', 'registry mirror'], ['--lane-port', 'lanePort', 'data lane']] as const) {
    it(`an explicit ${key} port in use is one line naming the address, the flag and the key`, async () => {
      const holder = createServer()
      await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
      try {
        const port = (holder.address() as { port: number }).port
        const value = flag === '--lane-port' ? String(port) : `127.0.0.1:${port}`
        const result = await runCli(['node', 'start', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--admin', 'off', flag, value], { dataDir: join(dir, `in-use-${key}`) })
        const line = assertCliError(result)
        assert.match(line, new RegExp(`cannot listen on .*${port} for the ${what}: the address is in use.*${flag} or ${key}:`))
      } finally {
        await new Promise(resolve => holder.close(resolve))
      }
    })
  }

  it('`node stop` with no node running fails with one line', async () => {
    assertCliError(await runCli(['node', 'stop'], { dataDir: join(dir, 'none') }))
  })
})
