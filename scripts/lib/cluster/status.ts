// The rows of pve:cluster:status: every VM the profile describes, and every other VM carrying all
// of its tags (templates excluded), compared with the profile.
import { expandMembers, ROLE_TAGS, type LoadedProfile } from '../profile.ts'
import type { ClusterConfig } from '../config.ts'
import type { PveClient } from '../pve/client.ts'
import { parseIpConfig } from '../vm/normalize.ts'
import { ClusterJournal } from './journal.ts'
import { readClusterView, withConfigs } from './live.ts'
import { hasAllTags, parseOwner } from './marker.ts'
import { desiredVms, planVm, type LiveVm } from './plan.ts'

export interface StatusRow {
  name: string
  vmid: number
  role: string
  node: string
  state: string
  ip?: string
  lock?: string
  drift: string[]
  inProfile: boolean
}

const ipOf = (vm: LiveVm) => {
  try {
    return parseIpConfig(vm.config?.ipconfig0 as string | undefined).ip
  } catch {
    return String(vm.config?.ipconfig0 ?? '')
  }
}

export async function clusterStatus(run: { client: PveClient; config: ClusterConfig; profile: LoadedProfile }): Promise<StatusRow[]> {
  const { client, config, profile } = run
  const journal = new ClusterJournal(profile.name)
  const members = expandMembers(profile, config)
  const view = await readClusterView(client)
  const vmids = new Set(members.map((m) => m.vmid!))
  const live = (await withConfigs(client, view.vms, { vmids, tags: profile.tags })).filter((v) => !v.template)
  const stateId = journal.readState()?.clusterId
  const adopted = live.map((v) => parseOwner(v.config?.description as string | undefined)).find((o) => o?.cluster === profile.name)?.clusterId
  const owner = { cluster: profile.name, clusterId: stateId ?? adopted ?? 'unknown' }
  // Placement of what exists is where it is; missing VMs are shown unplaced.
  const { vms } = desiredVms({ profile, config, owner, members, live, nodes: [], savedPlacement: Object.fromEntries(live.map((v) => [v.name, v.node])) })
  const rows: StatusRow[] = vms.map((d) => {
    const vm = live.find((v) => v.vmid === d.vmid)
    if (!vm) return { name: d.name, vmid: d.vmid, role: d.role, node: '-', state: 'missing', ip: d.ip, drift: ['does not exist (task pve:cluster:create)'], inProfile: true }
    const p = planVm({ ...d, node: vm.node }, vm, owner, config)
    const drift = p.state === 'foreign' || p.state === 'busy' ? [p.note ?? p.state] : [...p.changes.map((c) => `${c.field}: ${c.from} (profile: ${c.to})`), ...p.drift]
    return { name: vm.name, vmid: vm.vmid, role: d.role, node: vm.node, state: vm.status, ip: ipOf(vm), lock: vm.lock, drift, inProfile: true }
  })
  for (const vm of live.filter((v) => !vmids.has(v.vmid) && hasAllTags(v.tags, profile.tags))) {
    const role = vm.tags.includes(ROLE_TAGS.controlplane) ? 'controlplane' : vm.tags.includes(ROLE_TAGS.worker) ? 'worker' : '-'
    rows.push({ name: vm.name, vmid: vm.vmid, role, node: vm.node, state: vm.status, ip: ipOf(vm), lock: vm.lock, drift: ['not in the profile'], inProfile: false })
  }
  return rows.sort((a, b) => a.vmid - b.vmid)
}
