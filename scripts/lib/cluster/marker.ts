// The ownership marker: a cluster owns a VM only if the VM's description carries the line
// `pm-owner: <cluster>/<cluster-id>`. It is written by the clone request itself (so a VM that
// exists at all already carries it) and checked before every change. Tags select candidates;
// the marker decides. A VMID alone is never proof of identity (it can be recycled).
import type { Profile, Role } from '../profile.ts'
import { ROLE_TAGS } from '../profile.ts'

export interface Owner {
  cluster: string
  clusterId: string
}

const MARKER_LINE = /^pm-owner: ([a-z0-9-]+)\/([0-9a-f-]{8,64})$/m

export function ownerLine(owner: Owner): string {
  return `pm-owner: ${owner.cluster}/${owner.clusterId}`
}

/** The description of a new VM: a human line and the marker line. */
export function ownerDescription(owner: Owner, vm: { name: string; role: Role }): string {
  return `${vm.name}: ${vm.role} of cluster ${owner.cluster}, managed by proxmox-manager (clusters/${owner.cluster}.yaml). Keep the next line.\n${ownerLine(owner)}`
}

/** The marker in a description, if any. */
export function parseOwner(description: string | undefined): Owner | undefined {
  const m = MARKER_LINE.exec(description ?? '')
  return m ? { cluster: m[1], clusterId: m[2] } : undefined
}

export const isOwnedBy = (description: string | undefined, owner: Owner): boolean => {
  const found = parseOwner(description)
  return found !== undefined && found.cluster === owner.cluster && found.clusterId === owner.clusterId
}

/** Tags of a cluster VM: the profile's tags, its role tag and the tool's ownership tag, sorted. */
export function vmTags(profile: Profile, role: Role, managedTag: string | undefined): string[] {
  return [...new Set([...profile.tags, ROLE_TAGS[role], ...(managedTag ? [managedTag] : [])])].sort()
}

/** PVE stores tags `;`-separated and accepts `,` and spaces; compare case-insensitively. */
export function parseTagList(tags: string | undefined): string[] {
  return (tags ?? '')
    .split(/[;, ]+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase())
}

export const hasAllTags = (vmTags: string[], wanted: string[]): boolean => wanted.every((t) => vmTags.includes(t.toLowerCase()))
