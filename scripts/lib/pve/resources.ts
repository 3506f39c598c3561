// Cluster-wide views through /cluster/resources: the one place that knows which node hosts a
// VM (PVE runs a VM's endpoints only on its own node, so every VM call needs this first).
import { NotFoundError } from '../errors.ts'
import type { PveClient } from './client.ts'

export type ResourceType = 'vm' | 'storage' | 'node' | 'sdn'

/** One row of GET /cluster/resources (fields depend on the type). */
export interface ClusterResource {
  id: string
  type: 'qemu' | 'lxc' | 'node' | 'storage' | 'sdn' | 'pool' | string
  node?: string
  vmid?: number
  name?: string
  status?: string
  template?: 0 | 1
  tags?: string
  lock?: string
  cpu?: number
  maxcpu?: number
  mem?: number
  maxmem?: number
  disk?: number
  maxdisk?: number
  uptime?: number
  pool?: string
  hastate?: string
  storage?: string
  content?: string
  shared?: 0 | 1
  plugintype?: string
}

export interface VmSummary {
  vmid: number
  name: string
  node: string
  status: string
  template: boolean
  tags: string[]
  lock?: string
  /** CPU usage 0..1 of maxcpu */
  cpu: number
  maxcpu: number
  mem: number
  maxmem: number
  maxdisk: number
  uptime: number
  pool?: string
  hastate?: string
}

export interface VmFilter {
  status?: string
  node?: string
  /** every tag must be present (AND) */
  tags?: string[]
  /** true: only templates; false: only non-templates; undefined: both */
  template?: boolean
}

export function listResources(client: PveClient, type?: ResourceType): Promise<ClusterResource[]> {
  return client.get<ClusterResource[]>('/cluster/resources', { type })
}

/** PVE stores tags `;`-separated (it accepts `,` and spaces on input). */
export function parseTags(tags: string | undefined): string[] {
  return (tags ?? '').split(/[;, ]+/).filter(Boolean)
}

export function toVmSummary(r: ClusterResource): VmSummary {
  return {
    vmid: Number(r.vmid),
    name: r.name ?? `VM ${r.vmid}`,
    node: r.node ?? '',
    status: r.status ?? 'unknown',
    template: r.template === 1,
    tags: parseTags(r.tags),
    lock: r.lock || undefined,
    cpu: r.cpu ?? 0,
    maxcpu: r.maxcpu ?? 0,
    mem: r.mem ?? 0,
    maxmem: r.maxmem ?? 0,
    maxdisk: r.maxdisk ?? 0,
    uptime: r.uptime ?? 0,
    pool: r.pool,
    hastate: r.hastate,
  }
}

export function filterVms(vms: VmSummary[], filter: VmFilter): VmSummary[] {
  return vms.filter(
    (vm) =>
      (filter.status === undefined || vm.status === filter.status) &&
      (filter.node === undefined || vm.node === filter.node) &&
      (filter.template === undefined || vm.template === filter.template) &&
      (filter.tags ?? []).every((t) => vm.tags.includes(t)),
  )
}

/** QEMU VMs (templates included), sorted by VMID. */
export async function listVms(client: PveClient, filter: VmFilter = {}): Promise<VmSummary[]> {
  const rows = await listResources(client, 'vm')
  const vms = rows.filter((r) => r.type === 'qemu').map(toVmSummary)
  return filterVms(vms, filter).sort((a, b) => a.vmid - b.vmid)
}

export async function getVm(client: PveClient, vmid: number): Promise<VmSummary> {
  const rows = await listResources(client, 'vm')
  const row = rows.find((r) => r.type === 'qemu' && Number(r.vmid) === vmid)
  if (!row) {
    const other = rows.find((r) => Number(r.vmid) === vmid)
    throw new NotFoundError(
      other ? `VMID ${vmid} is a ${other.type === 'lxc' ? 'container' : other.type}, not a QEMU VM` : `VM ${vmid} does not exist`,
      other ? undefined : 'list VMs with: task pve:vms (a token without VM.Audit on the VM cannot see it either)',
    )
  }
  return toVmSummary(row)
}

export async function resolveVmNode(client: PveClient, vmid: number): Promise<string> {
  return (await getVm(client, vmid)).node
}

export interface NodeSummary {
  node: string
  status: string
  cpu: number
  maxcpu: number
  mem: number
  maxmem: number
  uptime: number
}

export async function listNodes(client: PveClient): Promise<NodeSummary[]> {
  const rows = await listResources(client, 'node')
  return rows
    .map((r) => ({ node: r.node ?? r.id.replace(/^node\//, ''), status: r.status ?? 'unknown', cpu: r.cpu ?? 0, maxcpu: r.maxcpu ?? 0, mem: r.mem ?? 0, maxmem: r.maxmem ?? 0, uptime: r.uptime ?? 0 }))
    .sort((a, b) => a.node.localeCompare(b.node))
}
