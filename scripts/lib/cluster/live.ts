// Reading the cluster as it is: one /cluster/resources for VMs, nodes and storages, the configs
// of the VMs that concern a cluster, the template, leftover volumes, and what the token can see.
import { apiPath, type PveClient } from '../pve/client.ts'
import type { ClusterResource } from '../pve/resources.ts'
import { ApiError, NotFoundError } from '../errors.ts'
import { missingPrivileges, type PermissionMap } from '../vm/permissions.ts'
import { parseTagList, hasAllTags } from './marker.ts'
import { bootDisk, type LiveVm, type VmConfig } from './plan.ts'
import type { NodeCapacity } from './placement.ts'

export interface ClusterView {
  vms: LiveVm[]
  nodes: (NodeCapacity & { status: string })[]
  storages: { storage: string; node: string; shared: boolean; content: string[] }[]
}

export async function readClusterView(client: PveClient): Promise<ClusterView> {
  const rows = await client.get<ClusterResource[]>('/cluster/resources')
  const vms: LiveVm[] = rows
    .filter((r) => r.type === 'qemu')
    .map((r) => ({
      vmid: Number(r.vmid),
      name: r.name ?? '',
      node: r.node ?? '',
      status: r.status ?? 'unknown',
      template: r.template === 1,
      tags: parseTagList(r.tags),
      lock: r.lock || undefined,
    }))
  const nodes = rows
    .filter((r) => r.type === 'node')
    .map((r) => {
      const node = r.node ?? r.id.replace(/^node\//, '')
      return { node, status: r.status ?? 'unknown', online: r.status === 'online', maxmem: r.maxmem ?? 0, mem: r.mem ?? 0 }
    })
  const storages = rows
    .filter((r) => r.type === 'storage')
    .map((r) => ({ storage: r.storage ?? r.id.split('/').pop()!, node: r.node ?? '', shared: r.shared === 1, content: String(r.content ?? '').split(',').filter(Boolean) }))
  return { vms, nodes, storages }
}

const isMissing = (err: unknown) => err instanceof ApiError && /does not exist|no such VM|not found/i.test(err.message)

/** GET .../config; undefined when the VM is gone (e.g. deleted or moved in between). */
export async function readVmConfig(client: PveClient, node: string, vmid: number): Promise<VmConfig | undefined> {
  try {
    return await client.get<VmConfig>(apiPath`/nodes/${node}/qemu/${vmid}/config`)
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** Adds configs to the VMs that concern the cluster (its VMIDs, or carrying all its tags). */
export async function withConfigs(client: PveClient, vms: LiveVm[], concern: { vmids: Set<number>; tags: string[] }): Promise<LiveVm[]> {
  return Promise.all(
    vms.map(async (vm) => {
      if (!concern.vmids.has(vm.vmid) && !hasAllTags(vm.tags, concern.tags)) return vm
      const config = await readVmConfig(client, vm.node, vm.vmid)
      return config ? { ...vm, config } : vm
    }),
  )
}

/**
 * One VM, located cluster-wide (it may have migrated), with its config. A VM whose config cannot
 * be read (moved or removed between the two calls twice in a row) comes back without `config`.
 */
export async function readLiveVm(client: PveClient, vmid: number): Promise<LiveVm | undefined> {
  let vm: LiveVm | undefined
  for (let attempt = 0; attempt < 2; attempt++) {
    vm = (await readClusterView(client)).vms.find((v) => v.vmid === vmid)
    if (!vm) return undefined
    const config = await readVmConfig(client, vm.node, vm.vmid)
    if (config) return { ...vm, config }
  }
  return vm
}

export interface TemplateInfo {
  vmid: number
  name: string
  node: string
  /** Storages its disks live on. */
  storages: string[]
  /** Every disk on shared storage: clones may go straight to another node. */
  shared: boolean
  bootDisk?: string
}

export async function readTemplate(client: PveClient, view: ClusterView, vmid: number): Promise<TemplateInfo> {
  const vm = view.vms.find((v) => v.vmid === vmid)
  if (!vm) throw new NotFoundError(`template ${vmid} does not exist (or the token cannot see it)`, 'list templates with: task pve:templates')
  if (!vm.template) throw new NotFoundError(`VM ${vmid} (${vm.name}) is not a template`, 'the profile\'s `template` must be a template VMID (task pve:templates)')
  const config = (await readVmConfig(client, vm.node, vmid)) ?? {}
  const storages = [
    ...new Set(
      Object.entries(config)
        .filter(([k, v]) => /^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/.test(k) && !/media=cdrom/.test(String(v)))
        .map(([, v]) => /^([^:,]+):/.exec(String(v))?.[1])
        .filter((s): s is string => Boolean(s) && s !== 'none'),
    ),
  ]
  const sharedIds = new Set(view.storages.filter((s) => s.shared).map((s) => s.storage))
  return { vmid, name: vm.name, node: vm.node, storages, shared: storages.length > 0 && storages.every((s) => sharedIds.has(s)), bootDisk: bootDisk(config) }
}

export interface Volume {
  node: string
  storage: string
  volid: string
  vmid: number
}

/** Image volumes of the given VMIDs on every online node's image storages (shared ones once). */
export async function findVolumes(client: PveClient, view: ClusterView, vmids: Set<number>): Promise<Volume[]> {
  const online = new Set(view.nodes.filter((n) => n.online).map((n) => n.node))
  const seenShared = new Set<string>()
  const out: Volume[] = []
  for (const s of view.storages) {
    if (!online.has(s.node) || !s.content.includes('images')) continue
    if (s.shared) {
      if (seenShared.has(s.storage)) continue
      seenShared.add(s.storage)
    }
    const items = await client.get<{ volid: string; vmid?: number | string }[]>(apiPath`/nodes/${s.node}/storage/${s.storage}/content`, { content: 'images' })
    for (const item of items) {
      const vmid = Number(item.vmid ?? /(?:^|[:/])(?:vm|base)-(\d+)-/.exec(item.volid)?.[1])
      if (vmids.has(vmid)) out.push({ node: s.node, storage: s.storage, volid: item.volid, vmid })
    }
  }
  return out
}

/** Privileges that keep the token from seeing every VM and node (empty = full visibility). */
export async function missingVisibility(client: PveClient): Promise<string[]> {
  const map = await client.get<PermissionMap>('/access/permissions')
  return missingPrivileges(map ?? {}, [
    { path: '/vms', privilege: 'VM.Audit' },
    { path: '/nodes', privilege: 'Sys.Audit' },
  ]).map((m) => `${m.privilege} on ${m.path}`)
}
