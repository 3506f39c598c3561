// Which hypervisor gets which VM. `spread` puts each VM of a role on the node with the fewest
// VMs of that role (control planes land on distinct hypervisors while there are enough), ties
// broken by free memory; `pack` puts each VM on the fullest node that still has the memory for it
// (best fit), so the cluster uses as few hypervisors as possible. Decided nodes are kept.
import type { ProfileMember, Role } from '../profile.ts'

export interface NodeCapacity {
  node: string
  online: boolean
  /** Bytes. */
  maxmem: number
  mem: number
}

export interface Placement {
  name: string
  node: string
  /** Why the node was chosen (shown by plan). */
  reason: string
}

export interface PlacementResult {
  placements: Map<string, Placement>
  warnings: string[]
}

const MiB = 1024 * 1024

/**
 * Places `members` on `nodes`. `fixed` holds VMs whose node is already decided (existing VMs,
 * explicit assignments); they count towards spreading and use memory.
 */
export function placeMembers(members: ProfileMember[], nodes: NodeCapacity[], fixed: Map<string, string> = new Map()): PlacementResult {
  const warnings: string[] = []
  const placements = new Map<string, Placement>()
  const online = nodes.filter((n) => n.online)
  const free = new Map(online.map((n) => [n.node, n.maxmem - n.mem]))
  const perRole = new Map<string, number>()
  const roleKey = (role: Role, node: string) => `${role}/${node}`
  const take = (m: ProfileMember, node: string, reason: string) => {
    placements.set(m.name, { name: m.name, node, reason })
    free.set(node, (free.get(node) ?? 0) - m.memory * MiB)
    perRole.set(roleKey(m.role, node), (perRole.get(roleKey(m.role, node)) ?? 0) + 1)
  }

  for (const m of members) {
    const node = fixed.get(m.name) ?? m.node
    if (node) take(m, node, fixed.has(m.name) ? 'exists there' : 'assigned in the profile')
  }
  if (!online.length) {
    for (const m of members) if (!placements.has(m.name)) warnings.push(`${m.name}: no online node to place it on`)
    return { placements, warnings }
  }
  // Control planes first: they are the ones that must not share a hypervisor.
  const open = members.filter((m) => !placements.has(m.name)).sort((a, b) => (a.role === b.role ? 0 : a.role === 'controlplane' ? -1 : 1))
  for (const m of open) {
    const need = m.memory * MiB
    const byFree = [...online].sort((a, b) => free.get(b.node)! - free.get(a.node)! || a.node.localeCompare(b.node))
    let choice: string
    let reason: string
    if (m.placement === 'spread') {
      const count = (n: string) => perRole.get(roleKey(m.role, n)) ?? 0
      const fits = byFree.filter((n) => free.get(n.node)! >= need)
      const pool = fits.length ? fits : byFree
      choice = [...pool].sort((a, b) => count(a.node) - count(b.node) || free.get(b.node)! - free.get(a.node)! || a.node.localeCompare(b.node))[0].node
      reason = `spread: ${count(choice)} other ${m.role}(s) there, most free memory`
      if (m.role === 'controlplane' && count(choice) > 0) warnings.push(`${m.name}: fewer online hypervisors than control planes, so it shares ${choice} with another control plane`)
    } else {
      // Pack: the fullest node that still fits, so few hypervisors are used.
      const fits = byFree.filter((n) => free.get(n.node)! >= need).reverse()
      choice = (fits[0] ?? byFree[0]).node
      reason = 'pack: the fullest node with room'
    }
    if (free.get(choice)! < need) warnings.push(`${m.name}: no node has ${m.memory} MiB free; placed on ${choice}, which overcommits its memory`)
    take(m, choice, reason)
  }
  return { placements, warnings }
}
