/**
 * Importing a closure into an empty chroot store, the two ways `LocalNix.importPaths` has (docs/nix.md
 * "Importing"): restored by our NAR restorer and registered with `nix-store --load-db` (Nix reads no byte), and
 * streamed to `nix-store --import` (Nix hashes every NAR). The NARs come from the system store through our NAR
 * writer and are marked verified, as a closure pull marks the NARs it just checked. Rounds alternate the two ways;
 * prints every round and the medians. Run as root (single-user Nix):
 *
 *   node scripts/bench/nix-import.ts [N=100] [SIZE_KiB=2048] [--runs=5]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalNix, type ImportMethod } from '../../src/nix/index.ts'
import { NIX_ENV, buildChain, flushDisks, median, verifyClosure } from './nix-lib.ts'

const runs = Number(process.argv.find(a => a.startsWith('--runs='))?.slice('--runs='.length) ?? 5)
const [n = 100, kib = 2048] = process.argv.slice(2).filter(a => !a.startsWith('--')).map(Number)
const work = await mkdtemp(join(tmpdir(), 'emergence-bench-nix-import-'))
try {
  const chain = await buildChain(work, n, kib)
  const local = new LocalNix({ env: NIX_ENV })
  const infos = await local.closure([chain.root])
  const seconds: Record<ImportMethod, number[]> = { restore: [], import: [] }
  console.log(`closure: ${chain.paths} paths, ${(chain.narBytes / 1e6).toFixed(1)} MB of NARs\n`)
  console.log('| round | restore + --load-db s | nix-store --import s | ratio | load |')
  console.log('|---|---|---|---|---|')
  for (let round = 1; round <= runs; round++) {
    for (const method of ['restore', 'import'] as const) {
      const store = join(work, `${method}-${round}`)
      const target = new LocalNix({ env: NIX_ENV, storeRoot: store, importMethod: method })
      await flushDisks()
      const started = performance.now()
      await target.importPaths(infos.map(info => ({ info, verified: true, nar: () => local.dumpNar(info.path) })))
      seconds[method].push((performance.now() - started) / 1000)
      await verifyClosure(store, chain.root, chain.paths)
      await rm(store, { recursive: true, force: true })
    }
    const [r, i] = [seconds.restore.at(-1) ?? 0, seconds.import.at(-1) ?? 0]
    console.log(`| ${round} | ${r.toFixed(2)} | ${i.toFixed(2)} | ${(r / i).toFixed(2)}x | ${loadavg()[0]?.toFixed(1)} |`)
  }
  const [r, i] = [median(seconds.restore), median(seconds.import)]
  console.log(`| median | ${r.toFixed(2)} | ${i.toFixed(2)} | ${(r / i).toFixed(2)}x | |`)
} finally {
  await rm(work, { recursive: true, force: true })
}
