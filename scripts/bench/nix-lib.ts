/**
 * What the Nix benchmarks share (nix-closure.ts on loopback, nix-hosts.ts across network-namespace hosts): the
 * environment for single-user Nix, the chain closure of anchors/nix-copy.sh, a check that a store holds the whole
 * closure and Nix verifies it, and a plain HTTP binary cache of the closure for `nix copy --from`.
 */
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const NIX_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NIX_REMOTE'))
export const NIX = ['--extra-experimental-features', 'nix-command']
export const NO_SUBSTITUTES = ['--option', 'substituters', '']

export async function sh (cmd: string, args: string[], env: NodeJS.ProcessEnv = NIX_ENV): Promise<string> {
  return (await run(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 })).stdout
}

export interface Chain {
  root: string
  paths: number
  narBytes: number
}

/** The closure of anchors/nix-copy.sh: p1 <- p2 <- ... <- pN, each SIZE_KiB of /dev/urandom. */
export async function buildChain (work: string, n: number, kib: number): Promise<Chain> {
  const file = join(work, 'chain.nix')
  await writeFile(file, [
    'let mk = i: prev: builtins.derivation { name = "emergence-bench-${toString i}"; system = builtins.currentSystem; builder = "/bin/sh";',
    `  args = ["-c" "/bin/mkdir $out; /usr/bin/head -c ${kib * 1024} /dev/urandom > $out/data; echo \${prev} > $out/ref"]; };`,
    `  go = i: if i == 0 then "none" else mk i (go (i - 1)); in go ${n}`
  ].join('\n'))
  const root = (await sh('nix-build', [file, '--option', 'sandbox', 'false', ...NO_SUBSTITUTES, '--out-link', join(work, 'result')])).trim()
  const infos = JSON.parse(await sh('nix', [...NIX, 'path-info', '--json', '--recursive', ...NO_SUBSTITUTES, root])) as Array<{ narSize: number }>
  return { root, paths: infos.length, narBytes: infos.reduce((sum, i) => sum + i.narSize, 0) }
}

/**
 * Writes out what earlier steps left in the page cache, so that neither side of the comparison pays for the
 * other's writes (nor for the sharing) while its clock runs.
 */
export async function flushDisks (): Promise<void> {
  await run('sync', [])
}

export async function waitForHttp (url: string, wrap: string[] = []): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = wrap.length === 0
      ? await fetch(url).then(r => r.ok, () => false)
      : await run(wrap[0] as string, [...wrap.slice(1), 'curl', '-sf', '-o', '/dev/null', url]).then(() => true, () => false)
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${url} did not come up`)
}

/** Throws unless `store` holds the whole closure of `root` and Nix verifies every path of it. */
export async function verifyClosure (store: string, root: string, paths: number): Promise<void> {
  const listed = (await sh('nix-store', ['--store', store, '--query', '--requisites', root])).trim().split('\n')
  if (listed.length !== paths) throw new Error(`${store} holds ${listed.length} paths of the closure, not ${paths}`)
  await sh('nix-store', ['--store', store, '--verify-path', ...listed])
}

/** A binary cache of the closure with uncompressed NARs, as a directory a plain HTTP server can serve. */
export async function writeHttpCache (dir: string, root: string): Promise<void> {
  await sh('nix', [...NIX, 'copy', '--to', `file://${dir}?compression=none`, root])
}

/** `nix copy --from URL` of `root` into the chroot store `target`, with no signature check (plain cache). */
export function nixCopyArgs (url: string, target: string, root: string): string[] {
  return [...NIX, 'copy', '--from', url, '--to', target, '--option', 'require-sigs', 'false', ...NO_SUBSTITUTES,
    '--option', 'narinfo-cache-negative-ttl', '0', '--option', 'narinfo-cache-positive-ttl', '0', root]
}

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}
