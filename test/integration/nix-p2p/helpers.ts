/**
 * Shared set-up for Nix-over-the-network tests: closures of a few MB built with the real Nix (a chain of paths of
 * random data plus a root that refers to both ends), and in-process nodes (OCI store + P2P + a Nix store) on
 * loopback, torn down after each test.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'
import { LocalNix, generateSecretKey, type FetchContext, type PublicKey, type SecretKey, type ShareContext } from '../../../src/nix/index.ts'
import { p2pNixNetwork } from '../../../src/daemon/nix-service.ts'
import { P2P } from '../../../src/p2p/index.ts'
import { Store } from '../../../src/store/store.ts'
import { silentLogger } from '../../../src/util/logger.ts'
import { NIX_ENV, NIX_OPTIONS, nixStore } from '../nix/helpers.ts'

const run = promisify(execFile)

export interface NetClosure {
  root: string
  /** `nix-store -qR root`, sorted. */
  all: string[]
}

/**
 * Builds (or finds: the expression is fixed per `tag`) a closure: `tag-p0` <- `tag-p1` <- ... (each of
 * `sizes[i]` bytes of random data) and `tag-root` referring to the first and the last. A GC root in `dir`
 * keeps it alive while the test runs.
 */
export async function buildNetClosure (dir: string, tag: string, sizes: number[]): Promise<NetClosure> {
  const paths = sizes.map((size, i) => `  p${i} = sh "${tag}-p${i}" "/bin/mkdir $out; /usr/bin/head -c ${size} /dev/urandom > $out/data${i > 0 ? `; echo \${p${i - 1}} > $out/ref` : ''}";`)
  const expression = [
    'let',
    '  sh = name: script: builtins.derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ]; };',
    ...paths,
    `in sh "${tag}-root" "/bin/mkdir $out; echo \${p0} \${p${sizes.length - 1}} > $out/refs"`
  ].join('\n')
  const file = join(dir, `${tag}.nix`)
  await writeFile(file, expression)
  const { stdout } = await run('nix-build', [...NIX_OPTIONS, '--out-link', join(dir, `${tag}-result`), file], { env: NIX_ENV })
  const root = stdout.trim()
  return { root, all: await requisites(root) }
}

/** `nix-store [--store DIR] -qR path`, sorted. */
export async function requisites (path: string, store?: string): Promise<string[]> {
  return (await nixStore([...(store !== undefined ? ['--store', store] : []), '--query', '--requisites', path])).trim().split('\n').sort()
}

/** Fills a chroot store with a closure from the system store (`nix copy --to DIR`). */
export async function copyToStore (path: string, store: string): Promise<void> {
  await run('nix', ['--extra-experimental-features', 'nix-command', 'copy', '--no-check-sigs', '--to', store, path], { env: NIX_ENV })
}

export interface TestNode {
  p2p: P2P
  store: Store
  nix: LocalNix
  key: SecretKey
  ctx: FetchContext
  dir: string
}

export interface NixNodeOptions {
  /** Use the system Nix store rather than a fresh chroot store. */
  systemStore?: boolean
  trustedKeys?: PublicKey[]
  /** Peers allowed to connect (empty: any). */
  allowList?: string[]
  name?: string
}

/** A node with its own OCI store and Nix store (a chroot store under its dir unless `systemStore`). */
export async function startNixNode (t: TestContext, options: NixNodeOptions = {}): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), 'nix-p2p-'))
  const store = await Store.open(join(dir, 'oci'))
  const p2p = await P2P.create({
    store,
    identityDir: join(dir, 'p2p'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(options.allowList !== undefined ? { allowList: options.allowList } : {}),
    puller: { noProvidersTimeoutMs: 5_000 }
  })
  // Stopped before its directory goes: a node still writing (piece lists, pull state) makes the removal fail,
  // and a failed after-hook skips the hooks after it, which left nodes running and the test file hanging.
  t.after(async () => {
    await p2p.stop()
    await rm(dir, { recursive: true, force: true, maxRetries: 3 })
  })
  const nix = new LocalNix({ env: NIX_ENV, ...(options.systemStore === true ? {} : { storeRoot: join(dir, 'nix') }) })
  const key = generateSecretKey(`${options.name ?? 'node'}-${p2p.peerId.toString().slice(-8)}-1`)
  const ctx: FetchContext = { store, nix, signingKey: key, trustedKeys: options.trustedKeys ?? [], logger: silentLogger, network: p2pNixNetwork(p2p) }
  return { p2p, store, nix, key, ctx, dir }
}

export async function connect (a: TestNode, b: TestNode): Promise<void> {
  const address = b.p2p.addresses[0]
  if (address === undefined) throw new Error('node has no address')
  await a.p2p.dial(address)
}

/** The share context of a node: announces through its P2P. */
export function shareContext (node: TestNode): ShareContext {
  return { ...node.ctx, announce: digest => { node.p2p.blobAdded(digest) } }
}
