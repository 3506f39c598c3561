// Which VMs a teardown may destroy, and when it must refuse. Candidates are the VMs carrying every
// profile tag plus the VMs this tool cloned for the cluster (journal); a candidate is destroyed
// only if it carries the cluster's owner marker. Any doubt refuses the whole teardown before the
// first request that changes something.
import type { Profile } from '../profile.ts'
import { hasAllTags, isOwnedBy, type Owner } from './marker.ts'
import type { LiveVm } from './plan.ts'

export interface Visibility {
  /** Nodes cluster-config.yaml names. */
  expectedNodes: string[]
  /** Nodes the API reports, with their status. */
  nodes: { node: string; status: string }[]
  /** Privileges the token lacks to see every VM (empty = sees everything). */
  missingPrivileges: string[]
}

export interface TeardownInput {
  profile: Profile
  owner: Owner
  /** Number of VMs the profile describes (the blast-radius cap). */
  profileSize: number
  live: LiveVm[]
  /** VMIDs a run cloned for this cluster (state + journal). */
  journalVmids: number[]
  /** VMIDs the profile assigns. */
  profileVmids: number[]
  visibility: Visibility
}

export interface TeardownPlan {
  targets: LiveVm[]
  refusals: string[]
}

export function checkVisibility(v: Visibility): string[] {
  const out: string[] = []
  const seen = new Map(v.nodes.map((n) => [n.node, n.status]))
  for (const node of v.expectedNodes) {
    const status = seen.get(node)
    if (status === undefined) out.push(`visibility check failed: node ${node} (cluster-config.yaml) is not reported by the API`)
    else if (status !== 'online') out.push(`visibility check failed: node ${node} is ${status}; its VMs cannot be listed`)
  }
  for (const n of v.nodes) if (n.status !== 'online' && !v.expectedNodes.includes(n.node)) out.push(`visibility check failed: node ${n.node} is ${n.status}; its VMs cannot be listed`)
  if (v.missingPrivileges.length) out.push(`visibility check failed: the token cannot see every VM (missing ${v.missingPrivileges.join(', ')}); a partial listing could look like "nothing left"`)
  return out
}

export function planTeardown(input: TeardownInput): TeardownPlan {
  const refusals: string[] = []
  const tags = input.profile.tags.map((t) => t.trim()).filter(Boolean)
  if (!tags.length) return { targets: [], refusals: ['the profile has no tags: an empty selector would match every VM'] }
  refusals.push(...checkVisibility(input.visibility))

  const ours = new Set([...input.journalVmids, ...input.profileVmids])
  const candidates = input.live.filter((vm) => hasAllTags(vm.tags, tags) || (ours.has(vm.vmid) && isOwnedBy(vm.config?.description as string | undefined, input.owner)))
  const targets: LiveVm[] = []
  for (const vm of candidates) {
    const label = `VM ${vm.vmid} (${vm.name} on ${vm.node})`
    if (vm.template) {
      refusals.push(`${label} is a template carrying the cluster's tags; templates are never destroyed`)
      continue
    }
    if (!vm.config) {
      refusals.push(`${label}: its configuration could not be read, so its owner marker is unknown`)
      continue
    }
    if (!isOwnedBy(vm.config.description as string | undefined, input.owner)) {
      refusals.push(`${label} carries the tags ${tags.join(', ')} but not the owner marker of cluster ${input.owner.cluster}; it is not ours (remove the tags, or delete it by hand)`)
      continue
    }
    if (Number(vm.config.protection ?? 0) === 1) {
      refusals.push(`${label} is protected (protection: 1); unprotect it yourself if it really must go`)
      continue
    }
    targets.push(vm)
  }
  if (targets.length > input.profileSize) {
    refusals.push(`${targets.length} VMs match, more than the ${input.profileSize} the profile describes; refusing (check the list and the profile)`)
  }
  return { targets: targets.sort((a, b) => a.vmid - b.vmid), refusals }
}
