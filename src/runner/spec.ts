/**
 * The runtime-spec `config.json` (docs/formats.md "Runtime config"): the fields we set,
 * and the baseline `runc spec` writes (runc 1.1, docs/formats.md "Runtime config"), built in code so no runc call is needed.
 */

export interface Mount {
  destination: string
  type?: string
  source?: string
  options?: string[]
}

export interface User {
  uid: number
  gid: number
  additionalGids?: number[]
}

export interface Process {
  terminal: boolean
  user: User
  args: string[]
  env: string[]
  cwd: string
  capabilities: Record<'bounding' | 'effective' | 'permitted' | 'ambient', string[]>
  rlimits: Array<{ type: string, hard: number, soft: number }>
  noNewPrivileges: boolean
}

export interface RuntimeSpec {
  ociVersion: string
  process: Process
  root: { path: string, readonly: boolean }
  hostname: string
  mounts: Mount[]
  annotations?: Record<string, string>
  linux: {
    resources: { devices: Array<{ allow: boolean, access: string }> }
    namespaces: Array<{ type: string, path?: string }>
    maskedPaths: string[]
    readonlyPaths: string[]
  }
}

/** runc's default PATH (`runc spec`), added when the image's Env has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']

/**
 * What `runc spec` (runc 1.1.5) writes, except `terminal: false`: we never hand the container a pseudo-terminal,
 * so its stdio are the caller's pipes or a log file. `args` and `env` are placeholders the caller replaces.
 */
export function defaultSpec (): RuntimeSpec {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: [`PATH=${DEFAULT_PATH}`, 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS], ambient: [...DEFAULT_CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] }
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']
    }
  }
}

/** Options every bundle accepts, images and Nix closures alike. */
export interface SpecOptions {
  /** Extra mounts, after the defaults (e.g. `{destination, type: 'bind', source, options: ['rbind', 'ro']}`). */
  mounts?: Mount[]
  /** Default `emergence`. */
  hostname?: string
  /** 'none' (default): a new network namespace with loopback only; 'host': share the host's network. */
  network?: 'none' | 'host'
  /** Annotations copied into config.json. */
  annotations?: Record<string, string>
}

/** Applies SpecOptions to a spec in place. */
export function applySpecOptions (spec: RuntimeSpec, options: SpecOptions): void {
  spec.hostname = options.hostname ?? 'emergence'
  if (options.network === 'host') spec.linux.namespaces = spec.linux.namespaces.filter(ns => ns.type !== 'network')
  if (options.mounts !== undefined) spec.mounts.push(...options.mounts)
  if (options.annotations !== undefined) spec.annotations = { ...spec.annotations, ...options.annotations }
}

/** Sets `NAME=value` in an env list, replacing an earlier value of NAME. */
export function setEnv (env: string[], entry: string): void {
  const name = entry.slice(0, entry.indexOf('=') + 1)
  const at = env.findIndex(e => e.startsWith(name))
  if (at === -1) env.push(entry)
  else env[at] = entry
}

export function hasEnv (env: string[], name: string): boolean {
  return env.some(e => e.startsWith(`${name}=`))
}

/** The value of NAME in an env list. */
export function getEnv (env: string[], name: string): string | undefined {
  return env.find(e => e.startsWith(`${name}=`))?.slice(name.length + 1)
}
