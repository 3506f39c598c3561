// Reads what the inventory is computed from: the config, the profiles and, when credentials are in
// the environment, the live cluster (VMs with the configs of the profiles' VMIDs, node capacity).
import { resolve } from 'node:path'
import type { ClusterConfig } from '../config.ts'
import { listProfileFiles, loadProfile, type LoadedProfile } from '../profile.ts'
import { ClusterJournal } from '../cluster/journal.ts'
import { parseOwner, type Owner } from '../cluster/marker.ts'
import type { LiveVm } from '../cluster/plan.ts'
import { listNodes, listVms } from '../pve/resources.ts'
import type { PveClient } from '../pve/client.ts'
import { expandMembers } from '../profile.ts'
import type { LiveState } from './inventory.ts'

/** Every profile in `dir`, or only `only` (a name or path) when given. Invalid profiles are errors. */
export async function loadProfiles(config: ClusterConfig, dir: string, only?: string): Promise<LoadedProfile[]> {
  const opts = { dir, onWarning: () => {} }
  if (only) return [await loadProfile(only, config, opts)]
  const files = await listProfileFiles(dir)
  return Promise.all(files.map((f) => loadProfile(resolve(f), config, opts)))
}

export async function fetchLive(client: PveClient, config: ClusterConfig, profiles: LoadedProfile[]): Promise<LiveState> {
  const [vms, nodes] = await Promise.all([listVms(client), listNodes(client)])
  const wanted = new Set(profiles.flatMap((p) => expandMembers(p, config).map((m) => m.vmid)))
  const live: LiveVm[] = await Promise.all(
    vms.map(async (vm) => ({
      vmid: vm.vmid,
      name: vm.name,
      node: vm.node,
      status: vm.status,
      template: vm.template,
      tags: vm.tags,
      lock: vm.lock,
      config: wanted.has(vm.vmid) ? await client.get<Record<string, unknown>>(`/nodes/${vm.node}/qemu/${vm.vmid}/config`) : undefined,
    })),
  )
  return {
    vms: live,
    nodes: nodes.map((n) => ({ node: n.node, online: n.status === 'online', maxmem: n.maxmem, mem: n.mem })),
  }
}

/**
 * The owner id of each profile's cluster: its state file (written when it was created), else the
 * marker on one of its live VMs. Profiles never created have none.
 */
export function resolveOwners(profiles: LoadedProfile[], config: ClusterConfig, live: LiveState | undefined, stateRoot: string): Map<string, Owner> {
  const owners = new Map<string, Owner>()
  for (const p of profiles) {
    const state = new ClusterJournal(p.name, stateRoot).readState()
    if (state) {
      owners.set(p.name, { cluster: p.name, clusterId: state.clusterId })
      continue
    }
    const vmids = new Set(expandMembers(p, config).map((m) => m.vmid))
    for (const vm of live?.vms ?? []) {
      const owner = vmids.has(vm.vmid) ? parseOwner(vm.config?.description as string | undefined) : undefined
      if (owner?.cluster === p.name) {
        owners.set(p.name, owner)
        break
      }
    }
  }
  return owners
}
