// Reads what the planner needs from the cluster: node loads, every guest, PVE's migration
// pre-check for each guest of the node to evacuate, and the storages of the possible targets.
import { NotFoundError } from '../errors.ts'
import type { PveClient } from '../pve/client.ts'
import { listResources } from '../pve/resources.ts'
import { nodeStorages, precheck, toGuestRef } from './migrate.ts'
import { isHaManaged, type MigrateCheck, type NodeLoad, type NodeStorage, type PlacementPolicy, type PlanInput } from './placement.ts'

export async function readNodeLoads(client: PveClient): Promise<NodeLoad[]> {
  const rows = await listResources(client, 'node')
  return rows.map((r) => ({ name: r.node ?? r.id.replace(/^node\//, ''), online: r.status === 'online', maxmem: r.maxmem ?? 0, mem: r.mem ?? 0, maxcpu: r.maxcpu ?? 0 }))
}

export async function gatherPlanInput(client: PveClient, node: string, policy: PlacementPolicy, defaultStorage?: string): Promise<PlanInput> {
  const [nodes, vmRows] = await Promise.all([readNodeLoads(client), listResources(client, 'vm')])
  if (!nodes.some((n) => n.name === node)) throw new NotFoundError(`node '${node}' is not in the cluster (nodes: ${nodes.map((n) => n.name).join(', ')})`)
  const guests = vmRows.filter((r) => r.type === 'qemu' || r.type === 'lxc').map(toGuestRef)
  const local = guests.filter((g) => g.node === node && !g.template && !g.lock && !isHaManaged(g))
  const checks = new Map<number, MigrateCheck>()
  // A few pre-checks at a time: each one makes the node inspect the guest's disks.
  for (let i = 0; i < local.length; i += 8) {
    const batch = local.slice(i, i + 8)
    const results = await Promise.all(batch.map((g) => precheck(client, g)))
    batch.forEach((g, k) => checks.set(g.vmid, results[k]))
  }
  const storages: Record<string, NodeStorage[]> = {}
  const needStorages = [...checks.values()].some((c) => Object.values(c.notAllowed).some((n) => n.unavailable_storages?.length))
  if (needStorages) for (const n of nodes.filter((x) => x.online && x.name !== node)) storages[n.name] = await nodeStorages(client, n.name)
  return { node, nodes, guests, checks, storages, policy, defaultStorage }
}
