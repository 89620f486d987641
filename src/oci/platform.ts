/** Platform selection in an image index (docs/formats.md "Manifests, indexes and configs"). */
import { arch } from 'node:process'
import { NoMatchingPlatformError } from './errors.ts'
import type { Descriptor, Platform } from './types.ts'

/** Go's GOARCH names for Node's `process.arch`. */
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }

export function hostPlatform (): Platform {
  return { os: 'linux', architecture: GO_ARCH[arch] ?? arch }
}

export function formatPlatform (platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant !== undefined ? `/${platform.variant}` : ''}`
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform (value: string): Platform {
  const [os, architecture, variant] = value.split('/')
  if (os === undefined || os === '' || architecture === undefined || architecture === '') {
    throw new NoMatchingPlatformError(value, [])
  }
  return { os, architecture, ...(variant !== undefined ? { variant } : {}) }
}

export function platformMatches (candidate: Platform | undefined, wanted: Platform): boolean {
  if (candidate === undefined) return false
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false
  return wanted.variant === undefined || candidate.variant === undefined || candidate.variant === wanted.variant
}

/** The index entry for `wanted`; throws NoMatchingPlatformError listing what the index offers. */
export function selectPlatform (manifests: Descriptor[], wanted: Platform = hostPlatform()): Descriptor {
  const match = manifests.find(m => platformMatches(m.platform, wanted))
  if (match !== undefined) return match
  const available = manifests.flatMap(m => m.platform !== undefined ? [formatPlatform(m.platform)] : [])
  throw new NoMatchingPlatformError(formatPlatform(wanted), available)
}
