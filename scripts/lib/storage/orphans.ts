// Orphaned disks: `unusedN` entries in guest configs, and image volumes on storage that no guest
// references. Anything a snapshot still references is never an orphan: deleting it would break
// the snapshot (the seed's "verify they are not referenced by snapshots").
import { parseVolid, volumeOwner, volumesOfConfig } from './volumes.ts'

export interface GuestConfigs {
  vmid: number
  node: string
  name?: string
  type: 'qemu' | 'lxc'
  template: boolean
  tags: string[]
  config: Record<string, unknown>
  /** snapshot name → that snapshot's config */
  snapshots: Record<string, Record<string, unknown>>
}

export interface StoredVolume {
  volid: string
  storage: string
  node: string // node the listing came from (any node for shared storage)
  shared: boolean
  content: string // images, rootdir
  size?: number
  vmid?: number
}

export type OrphanKind = 'unused' | 'unreferenced'

export interface Orphan {
  kind: OrphanKind
  volid: string
  storage: string
  node: string
  size?: number
  /** unused: the guest whose config holds the entry; unreferenced: the owner named by the volume */
  vmid?: number
  /** unused: the config key (unused0…) */
  key?: string
  /** unreferenced: does the owning VMID exist in the cluster? */
  ownerExists?: boolean
  ownerManaged: boolean
}

export interface Kept {
  volid: string
  reason: string
}

export interface OrphanReport {
  orphans: Orphan[]
  /** candidates that are not orphans, with the reason (snapshot references) */
  kept: Kept[]
}

/**
 * Finds orphans. `volumes` are the image/rootdir volumes listed per storage (shared storages once);
 * `managedTag` marks guests the tool owns (removal is limited to those).
 */
export function findOrphans(guests: GuestConfigs[], volumes: StoredVolume[], managedTag: string): OrphanReport {
  const live = new Set<string>() // referenced by a current config (not as unusedN)
  const bySnapshot = new Map<string, string>() // volid → "vm 101 snapshot pre-upgrade"
  const guestById = new Map(guests.map((g) => [g.vmid, g]))
  for (const g of guests) {
    for (const ref of volumesOfConfig(g.config)) if (!ref.unused) live.add(ref.volid)
    for (const [snap, conf] of Object.entries(g.snapshots)) {
      for (const ref of volumesOfConfig(conf)) if (!bySnapshot.has(ref.volid)) bySnapshot.set(ref.volid, `VM ${g.vmid} snapshot '${snap}'`)
    }
  }
  const orphans: Orphan[] = []
  const kept: Kept[] = []
  const seen = new Set<string>()
  const isManaged = (vmid: number | undefined) => (vmid !== undefined ? (guestById.get(vmid)?.tags.includes(managedTag) ?? false) : false)

  for (const g of guests) {
    if (g.template) continue // a template's unused disks may back linked clones; never offered
    for (const ref of volumesOfConfig(g.config)) {
      if (!ref.unused) continue
      seen.add(ref.volid)
      const snap = bySnapshot.get(ref.volid)
      if (snap) {
        kept.push({ volid: ref.volid, reason: `referenced by ${snap}` })
        continue
      }
      if (live.has(ref.volid)) {
        kept.push({ volid: ref.volid, reason: 'also attached to a guest' })
        continue
      }
      const size = volumes.find((v) => v.volid === ref.volid)?.size
      orphans.push({ kind: 'unused', volid: ref.volid, storage: ref.storage, node: g.node, size, vmid: g.vmid, key: ref.key, ownerManaged: isManaged(g.vmid) })
    }
  }

  for (const v of volumes) {
    if (seen.has(v.volid) || live.has(v.volid)) continue
    seen.add(v.volid)
    const snap = bySnapshot.get(v.volid)
    if (snap) {
      kept.push({ volid: v.volid, reason: `referenced by ${snap}` })
      continue
    }
    const owner = v.vmid ?? volumeOwner(parseVolid(v.volid)?.volname ?? '')
    const ownerGuest = owner !== undefined ? guestById.get(owner) : undefined
    if (ownerGuest?.template) {
      kept.push({ volid: v.volid, reason: `belongs to template ${owner}` })
      continue
    }
    orphans.push({
      kind: 'unreferenced',
      volid: v.volid,
      storage: v.storage,
      node: v.node,
      size: v.size,
      vmid: owner,
      ownerExists: ownerGuest !== undefined,
      ownerManaged: isManaged(owner),
    })
  }
  orphans.sort((a, b) => a.volid.localeCompare(b.volid))
  return { orphans, kept }
}

/**
 * Which orphans may be removed: an `unused` entry or a volume of an existing guest only when the
 * guest carries the ownership tag (or `anyOwner`); a volume whose owner VMID no longer exists
 * always (nobody owns it). The caller must have proven the owner is absent cluster-wide.
 */
export function removable(o: Orphan, anyOwner: boolean): boolean {
  if (o.kind === 'unreferenced' && o.ownerExists === false) return true
  return anyOwner || o.ownerManaged
}
