// Privilege preflight for multi-VM operations: one GET /access/permissions, then every
// (path, privilege) the operation needs is checked before the first change, so a token that may
// stop 3 of 5 VMs fails up front with a list of what is missing instead of half-way through.
import { PmError, EXIT } from '../errors.ts'
import type { PveApi } from './api.ts'

/** /access/permissions: path → privilege → propagate flag (1/0). */
export type PermissionMap = Record<string, Record<string, number | boolean>>

export interface Requirement {
  path: string
  privilege: string
  /** Extra path that also grants it (a VM's pool: /pool/<name>). */
  alsoPath?: string
  /**
   * Other ways PVE accepts instead (the 'or' branches and 'any' lists of an endpoint's check):
   * each alternative is satisfied when all of its privileges are granted on its path.
   */
  alternatives?: Alternative[]
}

export interface Alternative {
  path: string
  privileges: string[]
}

function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean)
  const out: string[] = []
  for (let i = parts.length - 1; i >= 0; i--) out.push('/' + parts.slice(0, i).join('/'))
  return out.map((p) => (p === '/' ? '/' : p.replace(/\/$/, '')))
}

/** Whether the map grants `privilege` on `path`: the path's own entry, else the nearest propagating ancestor. */
export function grants(map: PermissionMap, path: string, privilege: string): boolean {
  if (map[path]) return Boolean(map[path][privilege] !== undefined && map[path][privilege] !== false)
  for (const parent of ancestors(path)) {
    const entry = map[parent]
    if (!entry) continue
    return entry[privilege] === 1 || entry[privilege] === true
  }
  return false
}

function satisfied(map: PermissionMap, r: Requirement): boolean {
  if (grants(map, r.path, r.privilege) || (r.alsoPath && grants(map, r.alsoPath, r.privilege))) return true
  return (r.alternatives ?? []).some((a) => a.privileges.every((p) => grants(map, a.path, p)))
}

export function missingPrivileges(map: PermissionMap, reqs: Requirement[]): Requirement[] {
  const seen = new Set<string>()
  return reqs.filter((r) => {
    const key = `${r.privilege} ${r.path} ${r.alsoPath ?? ''} ${describeAlternatives(r)}`
    if (seen.has(key)) return false // several nodes or steps needing the same grant name it once
    seen.add(key)
    return !satisfied(map, r)
  })
}

/** " (or Sys.Audit + Sys.Modify on /)": said once per group, so the user sees every way out. */
function describeAlternatives(r: Requirement): string {
  if (!r.alternatives?.length) return ''
  return ` (or ${r.alternatives.map((a) => `${a.privileges.join(' + ')} on ${a.path}`).join(', or ')})`
}

/** "VM.PowerMgmt on /vms/1001, /vms/1002; Datastore.AllocateSpace on /storage/local" */
export function describeMissing(missing: Requirement[]): string {
  const groups = new Map<string, { privilege: string; alternatives: string; paths: string[] }>()
  for (const m of missing) {
    const alternatives = describeAlternatives(m)
    const key = `${m.privilege}${alternatives}`
    const group = groups.get(key) ?? { privilege: m.privilege, alternatives, paths: [] }
    group.paths.push(m.path)
    groups.set(key, group)
  }
  return [...groups.values()]
    .map(({ privilege, alternatives, paths }) => {
      const shown = [...new Set(paths)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      const list = shown.length > 8 ? `${shown.slice(0, 8).join(', ')} and ${shown.length - 8} more` : shown.join(', ')
      return `${privilege} on ${list}${alternatives}`
    })
    .join('; ')
}

export class PermissionError extends PmError {
  readonly missing: Requirement[]
  constructor(missing: Requirement[]) {
    super(`the API token lacks privileges for this operation: ${describeMissing(missing)}`, EXIT.api, 'grant them to the token (privilege-separated tokens need their own ACL entries), see `task pve:check`')
    this.missing = missing
  }
}

/** Fetches the token's effective permissions once and fails with the full list of what is missing. */
export async function assertPrivileges(api: PveApi, reqs: Requirement[]): Promise<void> {
  if (!reqs.length) return
  const map = await api.get<PermissionMap>('/access/permissions')
  const missing = missingPrivileges(map ?? {}, reqs)
  if (missing.length) throw new PermissionError(missing)
}

/** The same privilege on each VM (with its pool as an alternative source). */
export const vmRequirements = (vms: { vmid: number; pool?: string }[], privilege: string): Requirement[] =>
  vms.map((v) => ({ path: `/vms/${v.vmid}`, privilege, alsoPath: v.pool ? `/pool/${v.pool}` : undefined }))

/** Privilege PVE checks for a config key (pve-api-behaviour.md §2.3, QS Qemu.pm $check_vm_modify_config_perm). */
export function configKeyPrivilege(key: string): string {
  if (['cores', 'sockets', 'vcpus', 'cpu', 'cpulimit', 'cpuunits', 'affinity', 'numa'].includes(key) || /^numa\d+$/.test(key)) return 'VM.Config.CPU'
  if (['memory', 'balloon', 'shares', 'hugepages'].includes(key)) return 'VM.Config.Memory'
  if (/^net\d+$/.test(key)) return 'VM.Config.Network'
  if (['ciuser', 'cipassword', 'sshkeys', 'nameserver', 'searchdomain', 'citype', 'ciupgrade', 'cicustom'].includes(key) || /^ipconfig\d+$/.test(key)) return 'VM.Config.Cloudinit'
  if (/^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$/.test(key)) return 'VM.Config.Disk'
  if (['bios', 'machine', 'scsihw', 'vga', 'keyboard', 'ostype', 'tablet', 'acpi', 'kvm', 'arch'].includes(key) || /^(usb|serial|parallel|hostpci)\d+$/.test(key)) return 'VM.Config.HWType'
  return 'VM.Config.Options'
}

/** check_volume_access for ISO and import volumes: any of PVE's three storage privileges reads them. */
function readVolumeRequirement(storage: string): Requirement {
  const path = `/storage/${storage}`
  return { path, privilege: 'Datastore.Audit', alternatives: [{ path, privileges: ['Datastore.AllocateSpace'] }, { path, privileges: ['Datastore.Allocate'] }] }
}

const DRIVE_KEY = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/

/**
 * What POST /nodes/{node}/qemu checks for these create parameters (QS Qemu.pm create_vm; schema:
 * "VM.Allocate on /vms/{vmid} ... Datastore.AllocateSpace on any used storage ... SDN.Use on any
 * used bridge"): VM.Allocate; the VM.Config.* privilege of every non-disk key
 * ($check_vm_modify_config_perm, serial sockets included); Datastore.AllocateSpace on each storage
 * a disk is allocated on; read access to an `import-from` volume's storage (check_volume_access:
 * Datastore.Audit, AllocateSpace or Allocate); SDN.Use on each bridge (and VLAN tag). No pool is
 * passed at creation, so /pool/<name> is no alternative here.
 */
export function createVmRequirements(vmid: number, params: Record<string, string | number>): Requirement[] {
  const vmPath = `/vms/${vmid}`
  const reqs: Requirement[] = [{ path: vmPath, privilege: 'VM.Allocate' }]
  for (const [key, raw] of Object.entries(params)) {
    if (key === 'vmid') continue
    const value = String(raw)
    if (DRIVE_KEY.test(key)) {
      const storage = /^([^:,=]+):/.exec(value)?.[1]
      if (/(^|,)media=cdrom(,|$)/.test(value)) {
        reqs.push({ path: vmPath, privilege: 'VM.Config.CDROM' })
        if (storage) reqs.push(readVolumeRequirement(storage))
        continue
      }
      if (storage) reqs.push({ path: `/storage/${storage}`, privilege: 'Datastore.AllocateSpace' })
      const source = /(?:^|,)import-from=([^,:]+):/.exec(value)?.[1]
      if (source) reqs.push(readVolumeRequirement(source))
      continue
    }
    reqs.push({ path: vmPath, privilege: configKeyPrivilege(key) })
    if (/^net\d+$/.test(key)) {
      const bridge = /(?:^|,)bridge=([^,]+)/.exec(value)?.[1]
      const tag = /(?:^|,)tag=(\d+)/.exec(value)?.[1]
      if (bridge) reqs.push({ path: `/sdn/zones/localnetwork/${bridge}${tag ? `/${tag}` : ''}`, privilege: 'SDN.Use' })
    }
  }
  return reqs
}
