// The Ansible inventory, computed from the project's own sources: the PVE hosts from
// cluster-config.yaml, the VMs of each cluster profile (clusters/*.yaml), and, when the API is
// reachable, where each VM actually lives (or would be placed) and its state. No hand-written copy.
import type { ClusterConfig } from '../config.ts'
import type { LoadedProfile } from '../profile.ts'
import { expandMembers } from '../profile.ts'
import type { Owner } from '../cluster/marker.ts'
import { desiredVms, type LiveVm } from '../cluster/plan.ts'
import { placeMembers, type NodeCapacity } from '../cluster/placement.ts'

export type HostVars = Record<string, unknown>

export interface InventoryGroup {
  hosts?: string[]
  children?: string[]
  vars?: Record<string, unknown>
}

/** The JSON an Ansible script inventory prints for --list. */
export interface AnsibleInventory {
  _meta: { hostvars: Record<string, HostVars> }
  [group: string]: InventoryGroup | { hostvars: Record<string, HostVars> }
}

/** What the API told us, when it was asked. */
export interface LiveState {
  vms: LiveVm[]
  nodes: NodeCapacity[]
}

export interface InventoryInput {
  config: ClusterConfig
  profiles: LoadedProfile[]
  /** The owner marker id of each profile's cluster (from its state), when known. */
  owners: Map<string, Owner>
  live?: LiveState
}

/** The group of the PVE hosts. */
export const PVE_GROUP = 'pve'
/** Ansible group names are identifiers: talos-staging → talos_staging. */
export const profileGroup = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_')
const ROLE_GROUP = { controlplane: 'controlplane', worker: 'workers' } as const

export function buildInventory(input: InventoryInput): AnsibleInventory {
  const { config } = input
  const hostvars: Record<string, HostVars> = {}
  const groups: Record<string, InventoryGroup> = {}
  const [first] = config.cluster.nodes

  for (const node of config.cluster.nodes) {
    hostvars[node.name] = {
      ansible_host: node.host,
      ansible_user: config.credentials.ssh_user,
      pve_node_name: node.name,
      pve_api_port: node.port,
    }
  }
  groups[PVE_GROUP] = {
    hosts: config.cluster.nodes.map((n) => n.name),
    vars: { pve_cluster_name: config.cluster.name, pve_host_roles: config.ansible.roles },
  }

  const roleChildren: Record<string, string[]> = { controlplane: [], workers: [] }
  for (const profile of input.profiles) {
    const group = profileGroup(profile.name)
    const members = expandMembers(profile, config)
    const owner = input.owners.get(profile.name)
    // Without the API (or an owner id) the profile still says which VMs exist and their VMIDs.
    const desired = input.live && owner
      ? new Map(desiredVms({ profile, config, owner, members, live: input.live.vms, nodes: input.live.nodes }).vms.map((d) => [d.name, d]))
      : undefined
    // A cluster not created yet has no owner id: still say where the placement would put each VM.
    const placed = input.live && !owner ? placeMembers(members, input.live.nodes).placements : undefined
    const children: string[] = []
    for (const role of ['controlplane', 'worker'] as const) {
      const roleGroup = `${group}_${ROLE_GROUP[role]}`
      const hosts = members.filter((m) => m.role === role).map((m) => m.name)
      groups[roleGroup] = { hosts }
      children.push(roleGroup)
      roleChildren[ROLE_GROUP[role]].push(roleGroup)
    }
    groups[group] = {
      children,
      vars: {
        proxmox_profile: profile.name,
        proxmox_profile_type: profile.type,
        proxmox_template_vmid: profile.template,
        proxmox_owner_id: owner?.clusterId,
      },
    }
    for (const m of members) {
      const live = input.live?.vms.find((v) => v.vmid === m.vmid)
      const d = desired?.get(m.name)
      hostvars[m.name] = dropUndefined({
        ansible_host: m.ip,
        proxmox_vmid: m.vmid,
        proxmox_vm_name: m.name,
        proxmox_vm_role: m.role,
        proxmox_node: live?.node ?? d?.node ?? placed?.get(m.name)?.node ?? m.node,
        proxmox_cores: m.cores,
        proxmox_memory: m.memory,
        proxmox_disk: m.disk,
        proxmox_mac: m.mac,
        proxmox_tags: d?.tags,
        proxmox_description: d?.description,
        proxmox_ipconfig0: d?.ipconfig0,
        proxmox_nameserver: d?.nameserver,
        proxmox_exists: input.live ? Boolean(live) : undefined,
        proxmox_status: live?.status,
      })
    }
  }
  for (const [name, children] of Object.entries(roleChildren)) groups[name] = { children }

  const defaults = config.defaults
  return {
    _meta: { hostvars },
    all: {
      children: [PVE_GROUP, ...input.profiles.map((p) => profileGroup(p.name)), 'controlplane', 'workers'],
      vars: dropUndefined({
        // The API endpoint the playbooks on localhost talk to; the token comes from the environment.
        proxmox_api_host: first?.host,
        proxmox_api_port: first?.port,
        proxmox_validate_certs: !config.tls.insecure,
        proxmox_ca_file: config.tls.ca_file,
        proxmox_managed_tag: config.tags.managed,
        proxmox_templates_tag: config.tags.templates,
        proxmox_vm_defaults: defaults,
      }),
    },
    ...groups,
  }
}

/** Host vars for `--host <name>` (Ansible only asks when _meta is missing, but the protocol has it). */
export function hostVars(inventory: AnsibleInventory, host: string): HostVars {
  return inventory._meta.hostvars[host] ?? {}
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}
