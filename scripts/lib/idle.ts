/**
 * CPU accounting for benchmarks that time daemons: how much CPU a process has used (Linux /proc), and a wait
 * until a cluster is nearly idle, so that a pull is not timed against the start-up or the announcements of the
 * nodes that serve it (as in a running cluster, where sharing happened long before).
 */
import { readFile } from 'node:fs/promises'
import type { ClusterNode } from './cluster.ts'

/** User + system CPU seconds a process has used so far (Linux /proc). */
export async function cpuSeconds (pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Waits (up to a minute) until the daemons together use less than a tenth of a core. */
export async function settle (nodes: ClusterNode[]): Promise<void> {
  const total = async (): Promise<number> => (await Promise.all(nodes.map(async n => await cpuSeconds(n.process.pid)))).reduce((a, b) => a + b, 0)
  for (let waited = 0; waited < 60; waited++) {
    const before = await total()
    await new Promise(resolve => setTimeout(resolve, 1000))
    if (await total() - before < 0.1) return
  }
}
