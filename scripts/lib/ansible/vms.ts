// What the VM playbooks act on, read the way the inventory reads it: a profile's members (for the
// confirmation before a rolling reboot) and the cluster's owner id (before provisioning, so the
// inventory can plan tags and the owner marker). The id is the one pve:cluster:create would use:
// the state file, else adopted from the cluster's VMs, else a new one written to the state.
import type { ClusterConfig } from '../config.ts'
import { createClient } from '../context.ts'
import { resolveOwner } from '../cluster/engine.ts'
import { ClusterJournal, stateRoot } from '../cluster/journal.ts'
import type { Owner } from '../cluster/marker.ts'
import { clustersDir, expandMembers, type ProfileMember } from '../profile.ts'
import { fetchLive, loadProfiles } from './sources.ts'

export const REBOOT_GROUPS = ['all', 'controlplane', 'workers'] as const
export type RebootGroup = (typeof REBOOT_GROUPS)[number]

export async function profileVms(config: ClusterConfig, profile: string, group: RebootGroup): Promise<ProfileMember[]> {
  const [loaded] = await loadProfiles(config, clustersDir(), profile)
  const members = expandMembers(loaded, config)
  return group === 'all' ? members : members.filter((m) => (group === 'workers' ? m.role === 'worker' : m.role === 'controlplane'))
}

export async function ensureClusterId(config: ClusterConfig, profile: string): Promise<Owner & { fresh: boolean }> {
  const profiles = await loadProfiles(config, clustersDir(), profile)
  const live = await fetchLive(createClient(config), config, profiles)
  const { owner, fresh } = resolveOwner(new ClusterJournal(profiles[0].name, stateRoot()), live.vms, true)
  return { ...owner, fresh }
}
