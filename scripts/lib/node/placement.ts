// Evacuation planning: where each guest of a node goes. Pure: takes the cluster's state, returns a
// plan. The capacity model follows pvecontrol (CPU overcommit factor, memory reserve per node) but
// places each guest on the target with the most room left (spreading the load, unlike first-fit,
// which piles guests onto the first node that fits), largest guests first.
import type { PlannedMove, Blocked, Skipped, EvacuationPlan, HaGuest } from './plan.ts'

export interface NodeLoad {
  name: string
  online: boolean
  maxmem: number // bytes
  mem: number // bytes in use now
  maxcpu: number
}

export interface Guest {
  vmid: number
  name?: string
  type: 'qemu' | 'lxc'
  node: string
  status: string // running | stopped | paused…
  maxmem: number
  maxcpu: number
  maxdisk?: number
  template: boolean
  lock?: string
  hastate?: string
}

/** What `GET /nodes/{node}/qemu/{vmid}/migrate` said about a guest. */
export interface MigrateCheck {
  allowedNodes?: string[]
  notAllowed: Record<string, { unavailable_storages?: string[] }>
  localDisks: { volid: string; size?: number; cdrom?: boolean; is_unused?: boolean }[]
  localResources: string[]
}

export interface NodeStorage {
  storage: string
  content: string[]
  shared: boolean
  active: boolean
  avail: number
}

export interface PlacementPolicy {
  /** fraction of each node's memory kept free (pvecontrol: memoryminimum) */
  memReserve: number
  /** vCPUs of running guests may reach maxcpu × cpuFactor (pvecontrol: cpufactor) */
  cpuFactor: number
  /** spread (most room left) or first-fit (pvecontrol's way; kept for comparison) */
  strategy: 'spread' | 'first-fit'
  /** storage for local disks when the source storage does not exist on the target */
  targetStorage?: string
}

export const DEFAULT_POLICY: PlacementPolicy = { memReserve: 0.1, cpuFactor: 4, strategy: 'spread' }

export interface PlanInput {
  node: string
  nodes: NodeLoad[]
  guests: Guest[] // all guests of the cluster (the others count against target capacity)
  checks: Map<number, MigrateCheck>
  storages: Record<string, NodeStorage[]> // node → its storages
  policy: PlacementPolicy
  /** the storage named in cluster-config defaults, preferred for local disks */
  defaultStorage?: string
}

interface TargetState {
  node: NodeLoad
  memUsed: number
  vcpus: number
}

/** Guests that PVE's HA stack manages: they move through HA node maintenance, not by hand. */
export const isHaManaged = (g: Guest) => g.hastate !== undefined && g.hastate !== '' && g.hastate !== 'ignored'

const isRunning = (g: Guest) => g.status === 'running' || g.status === 'paused'

export function memLimit(n: NodeLoad, policy: PlacementPolicy): number {
  return n.maxmem * (1 - policy.memReserve)
}

export function planEvacuation(input: PlanInput): EvacuationPlan {
  const { node, policy } = input
  const source = input.nodes.find((n) => n.name === node)
  if (!source) throw new Error(`node '${node}' is not a cluster member`)
  const targets = new Map<string, TargetState>()
  for (const n of input.nodes) {
    if (n.name === node || !n.online) continue
    const vcpus = input.guests.filter((g) => g.node === n.name && isRunning(g)).reduce((s, g) => s + g.maxcpu, 0)
    targets.set(n.name, { node: n, memUsed: n.mem, vcpus })
  }

  const moves: PlannedMove[] = []
  const blocked: Blocked[] = []
  const skipped: Skipped[] = []
  const ha: HaGuest[] = []
  const local = input.guests.filter((g) => g.node === node)
  // Largest memory first (then largest disk): big guests are hardest to place and take longest.
  local.sort((a, b) => b.maxmem - a.maxmem || (b.maxdisk ?? 0) - (a.maxdisk ?? 0) || a.vmid - b.vmid)

  for (const g of local) {
    const label = { vmid: g.vmid, name: g.name ?? '', type: g.type }
    if (g.template) {
      skipped.push({ ...label, reason: 'template: not running, stays on its node' })
      continue
    }
    if (isHaManaged(g)) {
      ha.push({ ...label, status: g.status, hastate: g.hastate ?? '' })
      continue
    }
    if (g.lock) {
      blocked.push({ ...label, reason: `locked (${g.lock}): wait for the operation to finish, then plan again` })
      continue
    }
    const check = input.checks.get(g.vmid) ?? { notAllowed: {}, localDisks: [], localResources: [] }
    if (check.localResources.length) {
      blocked.push({ ...label, reason: `uses local devices (${check.localResources.join(', ')}): cannot migrate` })
      continue
    }
    const isoDisk = check.localDisks.find((d) => d.cdrom && !/cloudinit/.test(d.volid))
    if (isoDisk) {
      blocked.push({ ...label, reason: `local ISO ${isoDisk.volid} attached: eject it first` })
      continue
    }
    const disks = check.localDisks.filter((d) => !d.cdrom)
    const diskBytes = disks.reduce((s, d) => s + (d.size ?? 0), 0)
    const running = isRunning(g)
    const needMem = running ? g.maxmem : 0
    const needCpu = running ? g.maxcpu : 0

    const reasons: string[] = []
    let best: { t: TargetState; room: number; storage?: string } | undefined
    for (const t of targets.values()) {
      const name = t.node.name
      if (check.allowedNodes && !check.allowedNodes.includes(name) && !(name in check.notAllowed)) {
        reasons.push(`${name}: not allowed by PVE`)
        continue
      }
      let storage: string | undefined
      const missing = check.notAllowed[name]?.unavailable_storages ?? []
      if (missing.length) {
        storage = pickTargetStorage(input.storages[name] ?? [], diskBytes, policy.targetStorage ?? input.defaultStorage)
        if (!storage) {
          reasons.push(`${name}: storage ${missing.join(',')} missing and no image storage with ${gib(diskBytes)} free`)
          continue
        }
      }
      const room = memLimit(t.node, policy) - t.memUsed - needMem
      if (room < 0) {
        reasons.push(`${name}: not enough memory (${gib(needMem)} needed, ${gib(memLimit(t.node, policy) - t.memUsed)} left above the reserve)`)
        continue
      }
      if (t.vcpus + needCpu > t.node.maxcpu * policy.cpuFactor) {
        reasons.push(`${name}: vCPU overcommit above ${policy.cpuFactor}x`)
        continue
      }
      if (policy.strategy === 'first-fit') {
        best = { t, room, storage }
        break
      }
      const better =
        !best ||
        room > best.room ||
        (room === best.room && t.vcpus / t.node.maxcpu < best.t.vcpus / best.t.node.maxcpu) ||
        (room === best.room && t.vcpus / t.node.maxcpu === best.t.vcpus / best.t.node.maxcpu && name < best.t.node.name)
      if (better) best = { t, room, storage }
    }
    if (!best) {
      blocked.push({ ...label, reason: `no target fits: ${reasons.join('; ') || 'no other online node'}` })
      continue
    }
    best.t.memUsed += needMem
    best.t.vcpus += needCpu
    moves.push({
      ...label,
      from: node,
      to: best.t.node.name,
      mode: running ? (g.type === 'lxc' ? 'restart' : 'online') : 'offline',
      withLocalDisks: running && g.type === 'qemu' && disks.length > 0,
      targetStorage: best.storage,
      memory: g.maxmem,
      cores: g.maxcpu,
      diskBytes,
    })
  }
  // Longest first keeps the makespan short under bounded parallelism (LPT scheduling).
  moves.sort((a, b) => estimateCost(b) - estimateCost(a) || a.vmid - b.vmid)
  return {
    kind: 'evacuation-plan',
    version: 1,
    node,
    createdAt: new Date().toISOString(),
    policy: { memReserve: policy.memReserve, cpuFactor: policy.cpuFactor, strategy: policy.strategy },
    moves,
    ha: { maintenance: ha.length > 0, guests: ha },
    blocked,
    skipped,
  }
}

/** Relative cost of a move: RAM copied for live moves, disk copied when local disks travel. */
export function estimateCost(m: Pick<PlannedMove, 'mode' | 'memory' | 'diskBytes'>): number {
  return (m.mode === 'online' ? m.memory : 0) + (m.diskBytes ?? 0)
}

function pickTargetStorage(storages: NodeStorage[], bytes: number, preferred?: string): string | undefined {
  const fits = storages.filter((s) => s.active && s.content.includes('images') && s.avail >= bytes)
  if (preferred && fits.some((s) => s.storage === preferred)) return preferred
  fits.sort((a, b) => b.avail - a.avail || a.storage.localeCompare(b.storage))
  return fits[0]?.storage
}

const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`
