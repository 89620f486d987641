/**
 * Settings and checks shared by the fuzz suites (fast-check). Runs are seeded so that CI is reproducible:
 * `FUZZ_SEED=<n>` explores other inputs (a failure prints the seed and the path that reproduce it), and
 * `FUZZ_RUNS=<n>` sets the runs of every property (each file takes a few seconds with the defaults).
 */
import assert from 'node:assert/strict'
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Parameters } from 'fast-check'
import { EmergenceError } from '../../src/util/errors.ts'

/** The default seed: fixed, so CI explores the same inputs every time. */
export const DEFAULT_SEED = 20261130

function envInteger (name: string): number | undefined {
  const value = process.env[name]
  if (value === undefined || value === '') return undefined
  const parsed = Number(value)
  if (!Number.isSafeInteger(parsed)) throw new Error(`${name} must be an integer, got ${JSON.stringify(value)}`)
  return parsed
}

/** fast-check parameters: the seed, and `runs` runs unless FUZZ_RUNS says otherwise. */
export function fuzzParameters<T> (runs: number): Parameters<T> {
  return { seed: envInteger('FUZZ_SEED') ?? DEFAULT_SEED, numRuns: envInteger('FUZZ_RUNS') ?? runs, endOnFailure: true }
}

/** A test's time limit: a parser that hangs fails the suite instead of holding it. */
export const FUZZ_TIMEOUT_MS = 120_000

type ErrorClass = abstract new (...args: never[]) => Error

/** The EmergenceError classes a module (an errors.ts, imported as a namespace) exports. */
export function errorClassesOf (...modules: Array<Record<string, unknown>>): ErrorClass[] {
  return modules.flatMap(module => Object.values(module))
    .filter((value): value is ErrorClass => typeof value === 'function' && value.prototype instanceof EmergenceError)
}

/** Rethrows `err` unless it is one of the typed errors `allowed`: anything else is a crash the fuzzer found. */
export function expectTyped (err: unknown, allowed: readonly ErrorClass[]): void {
  if (allowed.some(cls => err instanceof cls)) return
  throw err
}

/** Runs `fn`; returns true when it succeeded, false when it threw one of the `allowed` errors. */
export async function succeedsOrTyped (fn: () => Promise<unknown> | unknown, allowed: readonly ErrorClass[]): Promise<boolean> {
  try {
    await fn()
    return true
  } catch (err) {
    expectTyped(err, allowed)
    return false
  }
}

/** What `parse` returns, as `{ value }`, or undefined when it threw one of the `allowed` errors. */
export function parsedOrTyped<T> (parse: () => T, allowed: readonly ErrorClass[]): { value: T } | undefined {
  try {
    return { value: parse() }
  } catch (err) {
    expectTyped(err, allowed)
    return undefined
  }
}

/** A snapshot of a tree: path -> type (and link target), to see that nothing outside a target changed. */
export async function treeOf (dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`
      const info = await lstat(join(dir, path))
      if (info.isDirectory()) {
        out.push(`${path}/`)
        await walk(path)
      } else {
        out.push(info.isSymbolicLink() ? `${path} -> ${await readlink(join(dir, path))}` : `${path} (${info.size})`)
      }
    }
  }
  await walk('')
  return out
}

/**
 * A directory for one run: `target` (where the code under test writes, not created), and `outside` beside it
 * with a file in it, which hostile input will aim at. `check()` asserts that nothing but `target` appeared and
 * that `outside` is as it was.
 */
export interface Sandbox {
  dir: string
  target: string
  outside: string
  check: () => Promise<void>
  /** Runs `fn` (one run of a property), checks the sandbox, and removes the target whatever happened. */
  confined: (fn: () => Promise<void>) => Promise<void>
}

/** Runs `fn` with a new sandbox, removed afterwards. */
export async function withSandbox (prefix: string, fn: (box: Sandbox) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  try {
    const target = join(dir, 'target')
    const outside = join(dir, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, 'sentinel'), 'keep\n')
    const before = await treeOf(outside)
    const check = async (): Promise<void> => {
      const names = (await readdir(dir)).filter(name => name !== 'target' && name !== 'outside')
      assert.deepEqual(names, [], 'nothing appears beside the target')
      assert.deepEqual(await treeOf(outside), before, 'nothing outside the target changes')
    }
    const confined = async (run: () => Promise<void>): Promise<void> => {
      try {
        await run()
        await check()
      } finally {
        await rm(target, { recursive: true, force: true })
      }
    }
    await fn({ dir, target, outside, check, confined })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
