// Talos and Kubernetes version arithmetic: exact versions for images, the config contract for
// `gen config --talos-version`, and which upgrades Talos supports.
import { ConfigError, RefusedError, UsageError } from '../errors.ts'
import type { LoadedProfile } from '../profile.ts'

export interface Version {
  major: number
  minor: number
  patch?: number
}

export function parseVersion(text: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(text.trim())
  if (!m) return undefined
  return { major: Number(m[1]), minor: Number(m[2]), patch: m[3] === undefined ? undefined : Number(m[3]) }
}

export const formatVersion = (v: Version) => `v${v.major}.${v.minor}${v.patch === undefined ? '' : `.${v.patch}`}`

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || (a.patch ?? 0) - (b.patch ?? 0)
}

/** The exact Talos release of the profile (v1.13.0); images and installers need the patch level. */
export function exactTalosVersion(profile: LoadedProfile): string {
  const text = profile.talos?.version ?? ''
  const v = parseVersion(text)
  if (!v || v.patch === undefined) {
    throw new ConfigError([
      {
        file: profile.file,
        path: 'talos.version',
        message: `"${text}" is not an exact Talos release: installer images and upgrades need one such as "v${v ? `${v.major}.${v.minor}` : '1.13'}.0" (see https://github.com/siderolabs/talos/releases)`,
      },
    ])
  }
  return formatVersion(v)
}

/** `--talos-version` for gen config: the machine-config contract, major.minor. */
export function contractVersion(version: string): string {
  const v = parseVersion(version)
  if (!v) throw new UsageError(`"${version}" is not a Talos version`)
  return `v${v.major}.${v.minor}`
}

/** Talos 1.12 moved networking to documents (Layer2VIPConfig, LinkConfig, ...); older ones use machine.network. */
export function usesNetworkDocuments(version: string): boolean {
  const v = parseVersion(version)
  return !!v && compareVersions(v, { major: 1, minor: 12, patch: 0 }) >= 0
}

export function normalizeKubernetesVersion(text: string): string {
  const v = parseVersion(text)
  if (!v || v.patch === undefined) throw new UsageError(`"${text}" is not an exact Kubernetes version such as 1.35.0`)
  return `${v.major}.${v.minor}.${v.patch}`
}

/**
 * Talos supports upgrading to a later patch or to the next minor release; across more minors one
 * steps through the latest patch of each intermediate minor. Downgrades are refused.
 */
export function checkUpgradePath(from: string, to: string): void {
  const a = parseVersion(from)
  const b = parseVersion(to)
  if (!a || !b) throw new UsageError(`cannot compare Talos versions "${from}" and "${to}"`)
  const cmp = compareVersions(b, a)
  if (cmp < 0) throw new RefusedError(`${to} is older than the running ${from}: downgrades are not supported by this tool`)
  if (b.major !== a.major || b.minor - a.minor > 1) {
    const next = `v${a.major}.${a.minor + 1}`
    throw new RefusedError(
      `upgrading from ${from} to ${to} skips a minor release, which Talos does not support`,
      `upgrade to the latest ${next}.x patch first, then to ${to}`,
    )
  }
}
