/**
 * Hosts in network namespaces for the benchmarks, through `scripts/bench/anchors/netns-lib.sh`: its functions run
 * with a prefix of the benchmark's own (`hosts_up N RATE`, `hosts_down`), each host's address, and the command
 * prefix that runs a process on a host.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'

const LIB = join(dirname(import.meta.filename), '..', 'bench', 'anchors', 'netns-lib.sh')

export interface NetnsHosts {
  /** Runs netns-lib.sh functions (`hosts_up 4 200mbit`, `hosts_down`) with the prefix; throws on failure. */
  sh: (script: string) => string
  /** Host i's address (1-based, as netns-lib.sh numbers hosts). */
  ip: (i: number) => string
  /** The command prefix that runs a process on host i. */
  wrap: (i: number) => string[]
}

/** `netOnly`: enter only the host's network namespace (nsenter), keeping the host's /sys: runc needs its cgroup mounts, which `ip netns exec` hides. */
export function netnsHosts (prefix: string, options: { netOnly?: boolean } = {}): NetnsHosts {
  return {
    sh: script => {
      const result = spawnSync('bash', ['-c', `PFX=${prefix}; source ${LIB}; ${script}`], { encoding: 'utf8' })
      if (result.status !== 0) throw new Error(`${script}: ${result.stderr}`)
      return result.stdout
    },
    ip: i => `198.18.0.${i + 1}`,
    wrap: i => options.netOnly === true ? ['nsenter', `--net=/var/run/netns/${prefix}h${i}`] : ['ip', 'netns', 'exec', `${prefix}h${i}`]
  }
}
