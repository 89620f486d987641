/**
 * Shared set-up for the tests against the real Nix (Debian's nix-bin 2.8, single-user as root): an environment
 * without NIX_REMOTE (no daemon here), the options builds need on this machine, and a small closure built from
 * `builtins.derivation` with /bin/sh (no nixpkgs).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'

const run = promisify(execFile)

/** The environment for Nix commands: no NIX_REMOTE, so they open the store directly rather than a daemon. */
export const NIX_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NIX_REMOTE'))

/**
 * Options every build and copy needs here: no substituters (there is no network, and asking cache.nixos.org
 * costs seconds of retries per command) and no sandbox (it does not work on Debian's single-user install).
 */
export const NIX_OPTIONS = ['--option', 'substituters', '', '--option', 'sandbox', 'false']

export const NIX_COMMAND = ['--extra-experimental-features', 'nix-command']

export async function nixStore (args: string[], input?: Buffer): Promise<string> {
  const child = run('nix-store', args, { env: NIX_ENV, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' })
  if (input !== undefined) child.child.stdin?.end(input)
  return (await child).stdout.toString('utf8')
}

export async function nixStoreBytes (args: string[]): Promise<Buffer> {
  return (await run('nix-store', args, { env: NIX_ENV, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' })).stdout
}

export async function nix (args: string[]): Promise<string> {
  return (await run('nix', [...NIX_COMMAND, ...args], { env: NIX_ENV, maxBuffer: 64 * 1024 * 1024 })).stdout
}

/** Fails the test file at once, with the reason, when Nix cannot be run here. */
export async function requireNix (): Promise<void> {
  const version = await nixStore(['--version'])
  if (!version.includes('Nix')) throw new Error(`unexpected nix-store --version output: ${version}`)
}

export async function makeTempDir (prefix = 'nix-it-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}

/** A temp directory removed after the test, pass or fail. */
export async function tempDir (t: TestContext, prefix = 'nix-it-'): Promise<string> {
  const dir = await makeTempDir(prefix)
  t.after(() => removeDir(dir))
  return dir
}

/**
 * Three paths: `app` refers to `lib` (a script mentions it, a symlink points into it) and to `big` (a ~4.8 MB
 * file); `app` holds an executable, absolute and relative symlinks, empty directories, an empty file and odd
 * names (spaces, UTF-8, emoji vs fullwidth letters whose UTF-16 and byte orders differ, a non-UTF-8 byte).
 * The expression is fixed, so every test file shares the same store paths and only the first one builds.
 */
export const CLOSURE_NIX = `
let
  sh = name: script: builtins.derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  };
  lib = sh "emergence-test-lib" ''
    /bin/mkdir -p $out/lib $out/share/empty
    echo library > $out/lib/data.txt
  '';
  big = sh "emergence-test-big" ''
    /bin/mkdir -p $out
    /usr/bin/seq 1 700000 > $out/big.txt
  '';
in sh "emergence-test-app" ''
  /bin/mkdir -p $out/bin "$out/odd names" $out/empty
  printf '#!/bin/sh\\necho \${lib}\\n' > $out/bin/run
  /bin/chmod 0755 $out/bin/run
  /bin/ln -s \${lib}/lib/data.txt $out/data-link
  /bin/ln -s bin/run $out/relative-link
  echo \${big} > $out/big-ref
  for n in "with space" "ünïcødé" "😀" "ｆ" "B" "a" "~tilde" "-dash" ".hidden"; do echo "$n" > "$out/odd names/$n"; done
  printf x > "$out/odd names/$(printf 'bad\\377byte')"
  : > $out/empty-file
''
`

export interface TestClosure {
  app: string
  lib: string
  big: string
  /** `nix-store -qR app`. */
  all: string[]
}

/** Builds (or finds) the test closure; a GC root in `dir` keeps it alive while the test runs. */
export async function buildTestClosure (dir: string): Promise<TestClosure> {
  const file = join(dir, 'closure.nix')
  await writeFile(file, CLOSURE_NIX)
  const { stdout } = await run('nix-build', [...NIX_OPTIONS, '--out-link', join(dir, 'result'), file], { env: NIX_ENV })
  const app = stdout.trim()
  const all = (await nixStore(['--query', '--requisites', app])).trim().split('\n')
  const find = (suffix: string): string => {
    const path = all.find(p => p.endsWith(suffix))
    if (path === undefined) throw new Error(`no ${suffix} in ${all.join(' ')}`)
    return path
  }
  return { app, lib: find('-emergence-test-lib'), big: find('-emergence-test-big'), all }
}
