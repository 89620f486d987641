/**
 * The admin endpoint of real daemons on loopback: `/metrics` after a pull between two nodes (bytes, pieces,
 * lookups, store gauges, libp2p's own metrics), `/readyz` 503 while a node starts and 200 once it is up.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { freePort } from '../../../scripts/lib/ports.ts'
import { loadConfig, type ConfigOverrides } from '../../../src/daemon/config.ts'
import { controlRequest } from '../../../src/daemon/control-client.ts'
import { Daemon } from '../../../src/daemon/daemon.ts'
import { socketPath } from '../../../src/daemon/socket-path.ts'
import { ContainerRecords, RunnerPaths } from '../../../src/runner/containers.ts'
import { putImage, tempDir } from '../p2p/helpers.ts'
import { sample, samples } from './prometheus.ts'

async function startDaemon (t: TestContext, dir: string, flags: ConfigOverrides = {}): Promise<Daemon> {
  const config = await loadConfig(dir, {
    env: {},
    flags: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, nixCache: 'off', registry: 'off', admin: '127.0.0.1:0', ...flags }
  })
  const daemon = await Daemon.start(config)
  t.after(async () => { await daemon.stop() })
  return daemon
}

async function scrape (daemon: Daemon): Promise<string> {
  const { admin } = await daemon.status()
  assert.ok(admin !== undefined, 'the admin endpoint runs')
  const response = await fetch(`${admin}/metrics`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/)
  return await response.text()
}

test('after a pull between two nodes, /metrics shows the bytes, the pieces, the lookups, the store and libp2p\'s own metrics', async t => {
  const seed = await startDaemon(t, await tempDir(t))
  // A layer of several 1 MiB pieces, so that the pull goes piece by piece.
  const image = await putImage(seed.store, 'metrics/app:1', [randomBytes(3 * 1024 * 1024 + 5)])
  for (const blob of image.blobs) seed.p2p.blobAdded(blob.digest)
  const seedId = seed.p2p.peerId.toString()
  const puller = await startDaemon(t, await tempDir(t), { bootstrap: [seed.p2p.addresses[0] ?? ''], trustedPeers: [seedId] })

  const before = await scrape(puller)
  assert.equal(sample(before, 'emergence_pieces_verified_total'), 0)
  await puller.p2p.pullImage('metrics/app:1', { signal: AbortSignal.timeout(60_000) })

  const after = await scrape(puller)
  const received = samples(after, 'emergence_transfer_bytes_total', { direction: 'in', peer_class: 'trusted' }).reduce((sum, s) => sum + s.value, 0)
  assert.ok(received >= 3 * 1024 * 1024, `bytes in from the trusted seed: ${received}`)
  assert.ok((sample(after, 'emergence_transfer_bytes_total', { direction: 'in', path: 'lane', peer_class: 'trusted' }) ?? 0) > 0, 'pieces came on the data lane')
  assert.ok((sample(after, 'emergence_pieces_verified_total') ?? 0) >= 4, 'the layer\'s pieces and the small blobs were verified')
  assert.equal(sample(after, 'emergence_pieces_rejected_total'), 0)
  assert.equal(sample(after, 'emergence_peer_bans_total'), 0)
  assert.ok((sample(after, 'emergence_provider_lookups_total', { result: 'found' }) ?? 0) >= 1, 'providers were looked up and found')
  assert.ok((sample(after, 'emergence_provider_lookup_seconds_count') ?? 0) >= 1)
  assert.equal(sample(after, 'emergence_store_blobs'), image.blobs.length)
  assert.equal(sample(after, 'emergence_store_bytes'), image.bytes)
  assert.equal(sample(after, 'emergence_store_images'), 1)
  assert.equal(sample(after, 'emergence_blob_pulls_in_flight'), 0)
  assert.equal(sample(after, 'emergence_peers_connected'), 1)
  // libp2p's own, in the same registry, and the process's.
  assert.ok(samples(after, 'libp2p_data_transfer_bytes_total').length > 0, 'libp2p counts bytes per protocol')
  assert.ok(samples(after, 'libp2p_connection_manager_connections').length > 0)
  assert.ok(sample(after, 'process_cpu_user_seconds_total') !== undefined)

  const served = samples(await scrape(seed), 'emergence_transfer_bytes_total', { direction: 'out' }).reduce((sum, s) => sum + s.value, 0)
  assert.ok(served >= 3 * 1024 * 1024, `the seed counts what it sent: ${served}`)
})

test('/readyz answers 503 while the node starts and 200 once it is up; /healthz answers 200 throughout', async t => {
  // A bootstrap peer that accepts the TCP connection and says nothing holds the start until it is cut.
  const sockets = new Set<Socket>()
  let release = false
  const dialled = Promise.withResolvers<void>()
  const silent = createServer(socket => {
    if (release) socket.destroy()
    else sockets.add(socket)
    dialled.resolve()
  })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const socket of sockets) socket.destroy(); silent.close() })
  const port = (silent.address() as { port: number }).port
  const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const adminPort = await freePort()
  const admin = `http://127.0.0.1:${adminPort}`

  const dir = await tempDir(t)
  const starting = startDaemon(t, dir, { admin: `127.0.0.1:${adminPort}`, bootstrap: [`/ip4/127.0.0.1/tcp/${port}/p2p/${id}`] })
  await dialled.promise
  const early = await fetch(`${admin}/readyz`)
  assert.equal(early.status, 503)
  const body = await early.json() as { ready: boolean, checks: Record<string, boolean> }
  assert.equal(body.ready, false)
  assert.equal(body.checks.store, true, 'the store is open')
  assert.equal(body.checks.p2p, false, 'libp2p is not started yet')
  assert.equal((await fetch(`${admin}/healthz`)).status, 200)

  release = true
  for (const socket of sockets) socket.destroy()
  const daemon = await starting
  const ready = await fetch(`${admin}/readyz`)
  assert.equal(ready.status, 200)
  assert.deepEqual(await ready.json(), { ready: true, checks: { store: true, p2p: true, control: true, running: true } })
  assert.equal((await fetch(`${admin}/healthz`)).status, 200)
  assert.equal((await fetch(`${admin}/nothing`)).status, 404)
  assert.equal((await fetch(`${admin}/metrics`, { method: 'POST' })).status, 405)

  await daemon.stop()
  await assert.rejects(fetch(`${admin}/healthz`), 'the endpoint closes with the node')
})

test('the Nix cache and the registry mirror count their requests; GC passes and containers show too', async t => {
  const dir = await tempDir(t)
  await new ContainerRecords(new RunnerPaths(dir).containers).put({
    id: 'gone', kind: 'image', image: 'metrics/app:1', bundle: join(dir, 'runner', 'bundles', 'gone'), created: new Date().toISOString(), detached: true, runcRoot: join(dir, 'runner', 'runc')
  })
  const daemon = await startDaemon(t, dir, { nixCache: '127.0.0.1:0', registry: '127.0.0.1:0' })
  const status = await daemon.status()
  assert.equal((await fetch(`${status.nixCache ?? ''}/nix-cache-info`)).status, 200)
  assert.equal((await fetch(`${status.nixCache ?? ''}/${'0'.repeat(32)}.narinfo`)).status, 404)
  assert.equal((await fetch(`${status.registry ?? ''}/v2/metrics/app/manifests/1`)).status, 404)
  await controlRequest(socketPath(dir), 'POST', '/v1/gc')

  const text = await scrape(daemon)
  assert.equal(sample(text, 'emergence_nix_cache_requests_total', { kind: 'info', result: 'hit' }), 1)
  assert.equal(sample(text, 'emergence_nix_cache_requests_total', { kind: 'narinfo', result: 'miss' }), 1)
  assert.equal(sample(text, 'emergence_registry_requests_total', { kind: 'manifest', code: '404' }), 1)
  assert.equal(sample(text, 'emergence_gc_runs_total'), 1)
  assert.equal(sample(text, 'emergence_gc_freed_bytes_total'), 0)
  assert.equal(sample(text, 'emergence_containers', { state: 'stopped' }), 1, 'a container runc no longer knows is stopped')
})

test('an admin address in use stops the start with one line, before the store is opened', async t => {
  const holder = createServer()
  await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
  t.after(() => { holder.close() })
  const port = (holder.address() as { port: number }).port
  const dir = await tempDir(t)
  const config = await loadConfig(dir, { env: {}, flags: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, nixCache: 'off', registry: 'off', admin: `127.0.0.1:${port}` } })
  await assert.rejects(Daemon.start(config), { name: 'AdminAddressInUseError', message: new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port} for the admin endpoint .*set admin to another host:port, or off$`) })
  assert.equal(existsSync(join(dir, 'oci')), false, 'the store was not created')
  assert.equal(existsSync(socketPath(dir)), false)
})
