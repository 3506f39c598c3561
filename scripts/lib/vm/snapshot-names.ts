// Snapshots this tool creates carry a recognisable name, `pm-[<label>-]<YYYYMMDDhhmmss>` (UTC),
// so that pruning can never touch a snapshot someone else made (cv4pve-autosnap's rule).
// PVE snapshot names: ^[a-z][a-z0-9_-]+$ (case-insensitive), at most 40 characters.
import { UsageError } from '../errors.ts'

export const SNAPSHOT_PREFIX = 'pm-'
const SNAPNAME_RE = /^[a-z][a-z0-9_-]+$/i
const LABEL_RE = /^[a-z0-9][a-z0-9_]*$/i
export const MAX_LABEL_LENGTH = 40 - SNAPSHOT_PREFIX.length - 1 - 14

export function assertSnapshotName(name: string): void {
  if (!SNAPNAME_RE.test(name) || name.length > 40) {
    throw new UsageError(`invalid snapshot name '${name}': 2-40 characters, a letter first, then letters, digits, '-' or '_'`)
  }
  if (['current', 'pending', 'vzdump'].includes(name.toLowerCase())) throw new UsageError(`snapshot name '${name}' is reserved by PVE`)
}

export function assertLabel(label: string): void {
  if (!LABEL_RE.test(label) || label.length > MAX_LABEL_LENGTH) {
    throw new UsageError(`invalid label '${label}': up to ${MAX_LABEL_LENGTH} letters, digits or '_' (no '-')`)
  }
}

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14)

/** `pm-daily-20260522120000` for label `daily`, `pm-20260522120000` without one. */
export function toolSnapshotName(label: string | undefined, at: Date = new Date()): string {
  if (label) assertLabel(label)
  return `${SNAPSHOT_PREFIX}${label ? `${label.toLowerCase()}-` : ''}${stamp(at)}`
}

export interface ToolSnapshot {
  name: string
  label: string
  /** Seconds since the epoch, from the name. */
  time: number
}

/** Parses a name this tool made; undefined for any other snapshot. */
export function parseToolSnapshot(name: string): ToolSnapshot | undefined {
  const m = /^pm-(?:([a-z0-9][a-z0-9_]*)-)?(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(name)
  if (!m) return undefined
  const [, label = '', y, mo, d, h, mi, s] = m
  const time = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) / 1000
  return Number.isNaN(time) ? undefined : { name, label, time }
}

export interface SnapshotInfo {
  name: string
  snaptime?: number
  description?: string
  vmstate?: number
  parent?: string
}

/**
 * Which of a VM's snapshots to delete so that `keep` of ours remain, per label (only `label`
 * when given). Newest first by PVE's snaptime, falling back to the time in the name.
 */
export function planPrune(snapshots: SnapshotInfo[], keep: number, label?: string): SnapshotInfo[] {
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`KEEP must be a whole number >= 0, got ${keep}`)
  const ours = snapshots.flatMap((s) => {
    const parsed = parseToolSnapshot(s.name)
    return parsed && (label === undefined || parsed.label === label.toLowerCase()) ? [{ snap: s, parsed }] : []
  })
  const groups = new Map<string, typeof ours>()
  for (const o of ours) groups.set(o.parsed.label, [...(groups.get(o.parsed.label) ?? []), o])
  const doomed: SnapshotInfo[] = []
  for (const group of groups.values()) {
    group.sort((a, b) => (b.snap.snaptime ?? b.parsed.time) - (a.snap.snaptime ?? a.parsed.time) || b.parsed.time - a.parsed.time)
    doomed.push(...group.slice(keep).map((o) => o.snap))
  }
  return doomed
}
