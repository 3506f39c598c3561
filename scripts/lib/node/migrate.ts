// One guest migration, done the careful way: PVE's own pre-check (GET …/migrate), local disks
// carried with `with-local-disks` and mapped with `targetstorage` when the target lacks the source
// storage, a capacity check on the target, and a wait until the guest really is on the target.
// For HA-managed guests PVE turns the migrate call into an HA request (task `hamigrate`, which
// ends at once while the real migration runs later, ProxLB#276): we wait for the guest to arrive.
import { ConflictError, NotFoundError, RefusedError, TaskFailedError, UsageError } from '../errors.ts'
import { apiPath, type PveClient } from '../pve/client.ts'
import { listResources, type ClusterResource } from '../pve/resources.ts'
import { waitForTask } from '../pve/tasks.ts'
import type { TaskWaiter } from '../vm/context.ts'
import { isHaManaged, memLimit, type MigrateCheck, type NodeStorage, type PlacementPolicy } from './placement.ts'

export interface GuestRef {
  vmid: number
  type: 'qemu' | 'lxc'
  node: string
  status: string
  maxmem: number
  maxcpu: number
  maxdisk?: number
  name?: string
  lock?: string
  hastate?: string
  template: boolean
}

export function toGuestRef(r: ClusterResource): GuestRef {
  return {
    vmid: Number(r.vmid),
    type: r.type === 'lxc' ? 'lxc' : 'qemu',
    node: r.node ?? '',
    status: r.status ?? 'unknown',
    maxmem: r.maxmem ?? 0,
    maxcpu: r.maxcpu ?? 0,
    maxdisk: r.maxdisk,
    name: r.name,
    lock: r.lock || undefined,
    hastate: r.hastate || undefined,
    template: r.template === 1,
  }
}

export async function locateGuest(client: PveClient, vmid: number): Promise<GuestRef | undefined> {
  const rows = await listResources(client, 'vm')
  const row = rows.find((r) => Number(r.vmid) === vmid && (r.type === 'qemu' || r.type === 'lxc'))
  return row ? toGuestRef(row) : undefined
}

interface RawCheck {
  running?: number | boolean
  allowed_nodes?: string[]
  not_allowed_nodes?: Record<string, { unavailable_storages?: string[] }>
  local_disks?: { volid: string; size?: number; cdrom?: number | boolean; is_unused?: number | boolean }[]
  local_resources?: string[]
}

/** PVE's migration pre-check. Containers have none: their check is empty. */
export async function precheck(client: PveClient, g: Pick<GuestRef, 'vmid' | 'node' | 'type'>, target?: string): Promise<MigrateCheck> {
  if (g.type !== 'qemu') return { notAllowed: {}, localDisks: [], localResources: [] }
  const raw = await client.get<RawCheck>(apiPath`/nodes/${g.node}/qemu/${g.vmid}/migrate`, { target })
  return {
    allowedNodes: raw.allowed_nodes,
    notAllowed: raw.not_allowed_nodes ?? {},
    localDisks: (raw.local_disks ?? []).map((d) => ({ volid: d.volid, size: d.size, cdrom: !!Number(d.cdrom ?? 0), is_unused: !!Number(d.is_unused ?? 0) })),
    localResources: raw.local_resources ?? [],
  }
}

interface RawStorage {
  storage: string
  content?: string
  shared?: number
  active?: number
  enabled?: number
  avail?: number
}

export async function nodeStorages(client: PveClient, node: string): Promise<NodeStorage[]> {
  const rows = await client.get<RawStorage[]>(apiPath`/nodes/${node}/storage`)
  return rows.map((s) => ({
    storage: s.storage,
    content: (s.content ?? '').split(',').filter(Boolean),
    shared: s.shared === 1,
    active: s.active !== 0 && s.enabled !== 0,
    avail: s.avail ?? 0,
  }))
}

export interface MigrateOptions {
  target: string
  /** live migration: auto = when the guest runs */
  online: 'auto' | boolean
  bwlimit?: number // KiB/s
  targetStorage?: string
  /** skip the capacity check (the operator knows better) */
  force?: boolean
  policy: Pick<PlacementPolicy, 'memReserve'>
  defaultStorage?: string
  timeoutMs?: number
  onLog?: (line: string) => void
  onUpid?: (upid: string) => void
  /** Waits for the migration task; many migrations share one ActiveTaskWatch (default: waitForTask). */
  wait?: TaskWaiter
}

export interface MigrateResult {
  upid?: string
  vmid: number
  from: string
  to: string
  mode: 'online' | 'offline' | 'restart' | 'ha'
  withLocalDisks: boolean
  targetStorage?: string
}

/** Works out the POST parameters (and refuses what PVE would refuse), without migrating. */
export async function prepareMigration(client: PveClient, g: GuestRef, opts: MigrateOptions): Promise<{ params: Record<string, string | number | boolean | undefined>; result: MigrateResult }> {
  if (g.node === opts.target) throw new UsageError(`VM ${g.vmid} is already on ${opts.target}`)
  const nodes = await listResources(client, 'node')
  const target = nodes.find((n) => n.node === opts.target)
  if (!target) throw new NotFoundError(`node '${opts.target}' is not in the cluster (nodes: ${nodes.map((n) => n.node).join(', ')})`)
  if (target.status !== 'online') throw new RefusedError(`target node ${opts.target} is ${target.status ?? 'not online'}`)
  if (g.lock) throw new ConflictError(`VM ${g.vmid} is locked (${g.lock})`, 'wait for the running operation to finish')
  const running = g.status === 'running' || g.status === 'paused'
  if (running && opts.online === false && g.type === 'qemu') throw new UsageError(`VM ${g.vmid} is running: live migration is the only way without stopping it`, 'use ONLINE=auto, or stop the VM first')

  const base: MigrateResult = { vmid: g.vmid, from: g.node, to: opts.target, mode: 'offline', withLocalDisks: false }
  if (isHaManaged(g)) {
    await assertCapacity(client, target, running ? g.maxmem : 0, opts)
    return { params: { target: opts.target, online: running ? 1 : undefined, bwlimit: opts.bwlimit }, result: { ...base, mode: 'ha' } }
  }

  const check = await precheck(client, g, opts.target)
  if (check.localResources.length) throw new RefusedError(`VM ${g.vmid} uses local devices (${check.localResources.join(', ')}) and cannot be migrated`)
  const iso = check.localDisks.find((d) => d.cdrom && !/cloudinit/.test(d.volid))
  if (iso) throw new RefusedError(`VM ${g.vmid} has the local ISO ${iso.volid} attached`, `eject it first: task pve:vm:set VMID=${g.vmid} -- --cdrom none`)
  if (check.allowedNodes && !check.allowedNodes.includes(opts.target) && !(opts.target in check.notAllowed))
    throw new RefusedError(`PVE does not allow migrating VM ${g.vmid} to ${opts.target}`)
  const disks = check.localDisks.filter((d) => !d.cdrom)
  const missing = check.notAllowed[opts.target]?.unavailable_storages ?? []
  let targetStorage = opts.targetStorage
  if (missing.length && !targetStorage) {
    const bytes = disks.reduce((s, d) => s + (d.size ?? 0), 0)
    const storages = await nodeStorages(client, opts.target)
    const fits = storages.filter((s) => s.active && s.content.includes('images') && s.avail >= bytes)
    targetStorage = (fits.find((s) => s.storage === opts.defaultStorage) ?? fits.sort((a, b) => b.avail - a.avail)[0])?.storage
    if (!targetStorage) throw new RefusedError(`storage ${missing.join(', ')} does not exist on ${opts.target} and no image storage there has room for the disks`, 'pass --target-storage <storage>')
  }
  await assertCapacity(client, target, running ? g.maxmem : 0, opts)
  const withLocalDisks = running && g.type === 'qemu' && disks.length > 0
  const mode = g.type === 'lxc' ? (running ? 'restart' : 'offline') : running ? 'online' : 'offline'
  const params =
    g.type === 'lxc'
      ? { target: opts.target, restart: running ? 1 : undefined, 'target-storage': targetStorage, bwlimit: opts.bwlimit }
      : { target: opts.target, online: running ? 1 : undefined, 'with-local-disks': withLocalDisks ? 1 : undefined, targetstorage: targetStorage, bwlimit: opts.bwlimit }
  return { params, result: { ...base, mode, withLocalDisks, targetStorage } }
}

async function assertCapacity(client: PveClient, target: ClusterResource, needMem: number, opts: MigrateOptions): Promise<void> {
  if (opts.force || !needMem) return
  const maxmem = target.maxmem ?? 0
  const used = target.mem ?? 0
  const limit = memLimit({ name: target.node ?? '', online: true, maxmem, mem: used, maxcpu: target.maxcpu ?? 0 }, { ...opts.policy, cpuFactor: 1, strategy: 'spread' })
  if (used + needMem > limit) {
    const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`
    throw new RefusedError(
      `${target.node} has not enough memory: ${gib(needMem)} needed, ${gib(Math.max(0, limit - used))} free above the ${Math.round(opts.policy.memReserve * 100)}% reserve`,
      'pick another target, or pass --force',
    )
  }
}

/** Migrates and waits until the guest runs on the target. */
export async function migrateGuest(client: PveClient, g: GuestRef, opts: MigrateOptions): Promise<MigrateResult> {
  const { params, result } = await prepareMigration(client, g, opts)
  const upid = await client.post<string>(apiPath`/nodes/${g.node}/${g.type}/${g.vmid}/migrate`, params)
  opts.onUpid?.(upid)
  if (opts.wait) await opts.wait(upid, { timeoutMs: opts.timeoutMs, onLog: opts.onLog })
  else await waitForTask(client, upid, { timeoutMs: opts.timeoutMs, onLog: opts.onLog, pollMs: 50, maxPollMs: 2000 })
  // The task can end before the config has moved (pvetui's lesson), and an HA request ends before
  // the HA stack even starts: confirm the new location.
  await waitForArrival(client, g.vmid, opts.target, result.mode === 'ha' ? (opts.timeoutMs ?? 30 * 60_000) : 60_000)
  return { ...result, upid }
}

/** Polls /cluster/resources until the guest is on `node` and unlocked. */
export async function waitForArrival(client: PveClient, vmid: number, node: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let pollMs = 100
  for (;;) {
    const g = await locateGuest(client, vmid)
    if (!g) throw new NotFoundError(`VM ${vmid} disappeared during migration`)
    if (g.node === node && !g.lock) return
    if (Date.now() > deadline) throw new TaskFailedError(`VM ${vmid} is still on ${g.node}${g.lock ? ` (locked: ${g.lock})` : ''} after ${Math.round(timeoutMs / 1000)} s`)
    await new Promise((r) => setTimeout(r, pollMs))
    pollMs = Math.min(pollMs * 2, 2000)
  }
}
