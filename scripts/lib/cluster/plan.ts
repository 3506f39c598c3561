// From a profile and the live cluster to a plan: the desired VMs (name, VMID, node, sizing,
// address, tags, owner marker) and, for each, what exists and what create would still do.
// Pure: the caller fetches the live state; nothing here talks to PVE.
import type { Profile, ProfileMember, Role } from '../profile.ts'
import { ownerDescription, isOwnedBy, parseOwner, parseTagList, vmTags, type Owner } from './marker.ts'
import { placeMembers, type NodeCapacity } from './placement.ts'
import { diffConfig } from '../vm/config-diff.ts'
import { formatNet, parseNet } from '../vm/normalize.ts'

export type VmConfig = Record<string, unknown>

/** A VM as seen on the cluster: the /cluster/resources row plus, when fetched, its config. */
export interface LiveVm {
  vmid: number
  name: string
  node: string
  status: string
  template: boolean
  tags: string[]
  lock?: string
  config?: VmConfig
}

export interface DesiredVm {
  name: string
  vmid: number
  role: Role
  node: string
  placementReason: string
  cores: number
  memory: number
  disk: string
  ip?: string
  mac?: string
  tags: string[]
  description: string
  /** cloud-init ipconfig0: `ip=<ip>/<prefix>,gw=<gateway>` or `ip=dhcp`. */
  ipconfig0: string
  nameserver?: string
}

/** What the cluster config contributes to a VM (structurally part of ClusterConfig). */
export interface PlanConfig {
  defaults?: { network_bridge?: string; storage?: string }
  tags?: { managed?: string; templates?: string }
}

export type VmState = 'missing' | 'match' | 'differ' | 'busy' | 'broken' | 'foreign'

export interface Change {
  field: string
  from: string
  to: string
}

export interface VmActions {
  /** A partial clone (no boot disk) that must be destroyed before cloning again. */
  destroyBroken?: boolean
  clone?: boolean
  migrateTo?: string
  config?: Record<string, string>
  resize?: { disk: string; size: string }
  start?: boolean
}

export interface VmPlan {
  desired: DesiredVm
  state: VmState
  live?: LiveVm
  changes: Change[]
  actions: VmActions
  /** Why a VM cannot be touched (foreign) or is waited for (busy). */
  note?: string
  /** Drift that create cannot fix (e.g. a disk larger than the profile says). */
  drift: string[]
}

export interface ClusterPlan {
  vms: VmPlan[]
  /** VMs of this cluster (owner marker) that the profile no longer describes. */
  extra: LiveVm[]
  warnings: string[]
}

export interface PlanInput {
  profile: Profile
  config: PlanConfig
  owner: Owner
  members: ProfileMember[]
  /** All QEMU VMs visible on the cluster; those at the profile's VMIDs with `config`. */
  live: LiveVm[]
  nodes: NodeCapacity[]
  /** Nodes chosen by an earlier run (journal), kept so a resumed run finishes the same layout. */
  savedPlacement?: Record<string, string>
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

export function sizeToBytes(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size.trim())
  if (!m) return NaN
  return Math.round(Number(m[1]) * UNITS[m[2]])
}

/** `size=32G` of a drive string. */
export function driveSize(drive: unknown): number | undefined {
  const m = /(?:^|,)size=([^,]+)/.exec(String(drive ?? ''))
  return m ? sizeToBytes(m[1]) : undefined
}

const DISK_KEY = /^(scsi|virtio|sata|ide)\d+$/
const isMediaDrive = (v: unknown) => /(?:^|,)media=cdrom|cloudinit/.test(String(v ?? ''))

/** The boot disk of a VM config: first disk of `boot: order=...`, else the first disk drive. */
export function bootDisk(config: VmConfig): string | undefined {
  const order = /order=([^,]+)/.exec(String(config.boot ?? ''))?.[1]?.split(';') ?? []
  const candidates = [...order, ...Object.keys(config).filter((k) => DISK_KEY.test(k)).sort()]
  return candidates.find((k) => DISK_KEY.test(k) && config[k] !== undefined && !isMediaDrive(config[k]))
}

/** net0 with the wanted MAC and everything else (model, bridge, firewall...) kept. */
function netWithMac(current: unknown, mac: string, bridge: string): string {
  if (current === undefined) return `virtio=${mac},bridge=${bridge}`
  const dev = parseNet(String(current))
  return formatNet({ ...dev, macaddr: mac })
}

/**
 * Our tags added to the VM's; tags someone added by hand stay. The template tag a clone inherits
 * goes: a cluster VM is not a template. undefined when nothing changes.
 */
function wantedTags(live: string[], ours: string[], templateTag: string | undefined): string | undefined {
  const kept = live.filter((t) => t !== templateTag)
  if (kept.length === live.length && ours.every((t) => live.includes(t))) return undefined
  return [...new Set([...kept, ...ours])].sort().join(';')
}

export function desiredVms(input: Pick<PlanInput, 'profile' | 'config' | 'owner' | 'members' | 'live' | 'nodes' | 'savedPlacement'>): { vms: DesiredVm[]; warnings: string[] } {
  const { profile, config, owner, members } = input
  const fixed = new Map<string, string>()
  for (const m of members) {
    const saved = input.savedPlacement?.[m.name]
    const existing = input.live.find((v) => v.vmid === m.vmid)
    if (saved) fixed.set(m.name, saved)
    else if (existing && isOwnedBy(existing.config?.description as string | undefined, owner)) fixed.set(m.name, existing.node)
  }
  const { placements, warnings } = placeMembers(members, input.nodes, fixed)
  const { gateway, prefix, dns } = profile.network
  const vms = members.map((m) => {
    const placement = placements.get(m.name)
    return {
      name: m.name,
      vmid: m.vmid!,
      role: m.role,
      node: placement?.node ?? '',
      placementReason: placement?.reason ?? 'no online node',
      cores: m.cores,
      memory: m.memory,
      disk: m.disk,
      ip: m.ip,
      mac: m.mac,
      tags: vmTags(profile, m.role, config.tags?.managed),
      description: ownerDescription(owner, m),
      ipconfig0: m.ip ? `ip=${m.ip}/${prefix},gw=${gateway}` : 'ip=dhcp',
      nameserver: dns?.length ? dns.join(' ') : undefined,
    }
  })
  return { vms, warnings }
}

/** What still has to happen to `live` so it becomes `desired` (empty when it matches). */
export function vmActions(desired: DesiredVm, live: LiveVm, config: PlanConfig): { actions: VmActions; changes: Change[]; drift: string[] } {
  const cfg = live.config ?? {}
  const actions: VmActions = {}
  const changes: Change[] = []
  const drift: string[] = []
  const disk = bootDisk(cfg)
  if (!disk) {
    changes.push({ field: 'disk', from: 'none (partial clone)', to: `${desired.disk}, cloned again` })
    return { actions: { destroyBroken: true, clone: true, start: true }, changes, drift }
  }
  if (live.node !== desired.node) {
    actions.migrateTo = desired.node
    changes.push({ field: 'node', from: live.node, to: desired.node })
  }
  const liveTags = parseTagList(cfg.tags as string | undefined)
  const update = diffConfig(cfg, {
    cores: desired.cores,
    memory: desired.memory,
    ipconfig0: desired.ipconfig0,
    nameserver: desired.nameserver,
    net0: desired.mac ? netWithMac(cfg.net0, desired.mac, config.defaults?.network_bridge ?? 'vmbr0') : undefined,
    tags: wantedTags(liveTags, desired.tags, config.tags?.templates),
  })
  if (update.params) actions.config = update.params
  for (const c of update.changes) changes.push({ field: c.key, from: c.from === undefined ? '-' : String(c.from), to: c.to ?? '-' })
  const have = driveSize(cfg[disk])
  const wantBytes = sizeToBytes(desired.disk)
  if (have !== undefined && have < wantBytes) {
    actions.resize = { disk, size: desired.disk }
    changes.push({ field: `${disk} size`, from: formatSize(have), to: desired.disk })
  } else if (have !== undefined && have > wantBytes) {
    drift.push(`${disk} is ${formatSize(have)}, larger than the profile's ${desired.disk} (disks are never shrunk)`)
  }
  if (live.status !== 'running') {
    actions.start = true
    changes.push({ field: 'status', from: live.status, to: 'running' })
  }
  return { actions, changes, drift }
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`
  }
  return `${bytes}`
}

/** Classifies one desired VM against what lives at its VMID. */
export function planVm(desired: DesiredVm, live: LiveVm | undefined, owner: Owner, config: PlanConfig): VmPlan {
  if (!live) return { desired, state: 'missing', changes: [{ field: 'vm', from: '-', to: `clone of the template on ${desired.node}` }], actions: { clone: true, start: true }, drift: [] }
  if (live.template) return { desired, live, state: 'foreign', changes: [], actions: {}, drift: [], note: `VMID ${live.vmid} is a template (${live.name})` }
  // A clone in progress has only `lock: clone` in its config (no marker yet): wait, never act.
  if (live.lock) return { desired, live, state: 'busy', changes: [], actions: {}, drift: [], note: `locked (${live.lock}): a task is still working on it` }
  if (!live.config) return { desired, live, state: 'busy', changes: [], actions: {}, drift: [], note: 'its configuration could not be read (moving or being removed)' }
  const description = live.config.description as string | undefined
  if (!isOwnedBy(description, owner)) {
    const other = parseOwner(description)
    const note = other
      ? `VMID ${live.vmid} (${live.name}) belongs to ${other.cluster === owner.cluster ? `another instance of ${other.cluster} (id ${other.clusterId})` : `cluster ${other.cluster}`}`
      : `VMID ${live.vmid} is taken by ${live.name}, a VM without this cluster's owner marker`
    return { desired, live, state: 'foreign', changes: [], actions: {}, drift: [], note }
  }
  if (live.name !== desired.name) {
    return { desired, live, state: 'foreign', changes: [], actions: {}, drift: [], note: `VMID ${live.vmid} carries this cluster's marker but is named ${live.name}, not ${desired.name}` }
  }
  const { actions, changes, drift } = vmActions(desired, live, config)
  const state: VmState = actions.destroyBroken ? 'broken' : changes.length ? 'differ' : 'match'
  return { desired, live, state, changes, actions, drift }
}

export function planCluster(input: PlanInput): ClusterPlan {
  const { vms, warnings } = desiredVms(input)
  const byVmid = new Map(input.live.map((v) => [v.vmid, v]))
  const plans = vms.map((d) => planVm(d, byVmid.get(d.vmid), input.owner, input.config))
  const wanted = new Set(vms.map((v) => v.vmid))
  const extra = input.live.filter((v) => !wanted.has(v.vmid) && !v.template && isOwnedBy(v.config?.description as string | undefined, input.owner))
  for (const v of vms) if (!v.node) warnings.push(`${v.name}: no online node to place it on`)
  return { vms: plans, extra, warnings }
}

/** True when create has nothing left to do. */
export const isConverged = (plan: ClusterPlan): boolean => plan.vms.every((v) => v.state === 'match')
