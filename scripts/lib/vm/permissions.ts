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

export function missingPrivileges(map: PermissionMap, reqs: Requirement[]): Requirement[] {
  return reqs.filter((r) => !grants(map, r.path, r.privilege) && !(r.alsoPath && grants(map, r.alsoPath, r.privilege)))
}

/** "VM.PowerMgmt on /vms/1001, /vms/1002; Datastore.AllocateSpace on /storage/local" */
export function describeMissing(missing: Requirement[]): string {
  const byPriv = new Map<string, string[]>()
  for (const m of missing) byPriv.set(m.privilege, [...(byPriv.get(m.privilege) ?? []), m.path])
  return [...byPriv]
    .map(([priv, paths]) => {
      const shown = [...new Set(paths)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      const list = shown.length > 8 ? `${shown.slice(0, 8).join(', ')} and ${shown.length - 8} more` : shown.join(', ')
      return `${priv} on ${list}`
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
