// Backups: vzdump now, list backup volumes, scheduled jobs, restore (new VMID, unique MACs),
// delete. vzdump only backs up guests local to the node it runs on (others are silently
// skipped, and PVE then answers "OK" instead of a UPID), so one job per node is started.
import { ConflictError, NotFoundError, UsageError } from '../errors.ts'
import type { PveApi, VmResource } from './api.ts'
import type { StorageResource } from './clone.ts'
import type { VmOps } from './context.ts'
import { isVmidTaken, type VmidAllocator } from './vmid.ts'

export const BACKUP_MODES = ['snapshot', 'suspend', 'stop'] as const
export const COMPRESSIONS = ['zstd', 'lzo', 'gzip', '0'] as const

export interface BackupOptions {
  storage?: string
  mode: (typeof BACKUP_MODES)[number]
  compress: (typeof COMPRESSIONS)[number]
  notesTemplate?: string
  wait: boolean
}

export interface BackupJobResult {
  node: string
  vmids: number[]
  upid?: string
}

/** Groups the VMs by node: one vzdump per node. */
export function vzdumpBatches(vms: Pick<VmResource, 'vmid' | 'node'>[]): { node: string; vmids: number[] }[] {
  const byNode = new Map<string, number[]>()
  for (const vm of vms) byNode.set(vm.node, [...(byNode.get(vm.node) ?? []), vm.vmid])
  return [...byNode].sort(([a], [b]) => a.localeCompare(b)).map(([node, vmids]) => ({ node, vmids: vmids.sort((a, b) => a - b) }))
}

export async function backupBatch(ops: VmOps, batch: { node: string; vmids: number[] }, opts: BackupOptions): Promise<BackupJobResult> {
  const upid = await ops.api.post<string>(`/nodes/${encodeURIComponent(batch.node)}/vzdump`, {
    vmid: batch.vmids.join(','),
    storage: opts.storage,
    mode: opts.mode,
    compress: opts.compress,
    'notes-template': opts.notesTemplate ?? '{{guestname}} ({{vmid}}) on {{node}}: proxmox-manager',
  })
  if (!upid.startsWith('UPID:')) throw new NotFoundError(`vzdump on ${batch.node} backed up nothing: VMs ${batch.vmids.join(',')} are not on that node (any more)`)
  if (opts.wait) await ops.wait(upid, { timeoutMs: ops.taskTimeoutMs })
  return { ...batch, upid }
}

export interface BackupVolume {
  volid: string
  vmid?: number
  size?: number
  ctime?: number
  format?: string
  notes?: string
  protected?: number
  storage: string
  node: string
}

/** Storages that hold backups, once per shared storage, once per node for local ones. */
export function backupStorages(storages: StorageResource[], only?: string): StorageResource[] {
  const seen = new Set<string>()
  return storages.filter((s) => {
    if (!(s.content ?? '').split(',').includes('backup')) return false
    if (only && s.storage !== only) return false
    if (s.status && s.status !== 'available') return false
    const key = s.shared === 1 ? s.storage : `${s.node}/${s.storage}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export async function listBackups(api: PveApi, opts: { storage?: string; vmid?: number }): Promise<BackupVolume[]> {
  const storages = backupStorages(await api.get<StorageResource[]>('/cluster/resources', { type: 'storage' }), opts.storage)
  if (opts.storage && !storages.length) throw new NotFoundError(`storage '${opts.storage}' does not exist or holds no backups (content 'backup')`)
  const lists = await Promise.all(
    storages.map(async (s) => {
      const rows = await api.get<Omit<BackupVolume, 'storage' | 'node'>[]>(`/nodes/${encodeURIComponent(s.node)}/storage/${encodeURIComponent(s.storage)}/content`, {
        content: 'backup',
        vmid: opts.vmid,
      })
      return rows.map((r) => ({ ...r, storage: s.storage, node: s.node }))
    }),
  )
  return lists.flat().sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0))
}

export async function findBackup(api: PveApi, volid: string): Promise<BackupVolume> {
  const storage = volid.split(':')[0]
  if (!storage || !volid.includes(':')) throw new UsageError(`'${volid}' is not a volume id (storage:backup/vzdump-qemu-...)`, 'list backups with task pve:backup:list')
  const vol = (await listBackups(api, { storage })).find((b) => b.volid === volid)
  if (!vol) throw new NotFoundError(`backup '${volid}' does not exist`, 'list backups with task pve:backup:list')
  return vol
}

export async function restoreBackup(
  ops: VmOps,
  vol: BackupVolume,
  opts: { vmid?: number; storage?: string; node?: string; allocator: VmidAllocator; wait: boolean; start?: boolean },
): Promise<{ vmid: number; node: string; upid: string }> {
  let vmid = opts.vmid
  if (vmid !== undefined) {
    try {
      await ops.api.get('/cluster/nextid', { vmid })
    } catch (err) {
      if (isVmidTaken(err)) throw new ConflictError(`VM ${vmid} already exists: refusing to restore over it`, 'leave VMID out to restore as a new VM')
      throw err
    }
  } else vmid = await opts.allocator.allocate()
  const node = opts.node ?? vol.node
  try {
    const upid = await ops.api.post<string>(`/nodes/${encodeURIComponent(node)}/qemu`, {
      vmid,
      archive: vol.volid,
      storage: opts.storage,
      unique: 1, // new MAC addresses: the original VM may still be running
      start: opts.start ? 1 : undefined,
    })
    if (opts.vmid === undefined) opts.allocator.commit(vmid)
    if (opts.wait) await ops.wait(upid, { timeoutMs: ops.taskTimeoutMs })
    return { vmid, node, upid }
  } catch (err) {
    if (opts.vmid === undefined) opts.allocator.release(vmid)
    throw err
  }
}

export async function deleteBackup(ops: VmOps, vol: BackupVolume, opts: { wait: boolean }): Promise<string | undefined> {
  const res = await ops.api.delete<string | null>(
    `/nodes/${encodeURIComponent(vol.node)}/storage/${encodeURIComponent(vol.storage)}/content/${encodeURIComponent(vol.volid)}`,
  )
  if (typeof res === 'string' && res.startsWith('UPID:') && opts.wait) await ops.wait(res, { timeoutMs: ops.taskTimeoutMs })
  return typeof res === 'string' ? res : undefined
}

export interface BackupJob {
  id: string
  schedule?: string
  enabled?: number
  storage?: string
  vmid?: string
  all?: number
  pool?: string
  exclude?: string
  mode?: string
  compress?: string
  comment?: string
  'next-run'?: number
}

export const listBackupJobs = (api: PveApi) => api.get<BackupJob[]>('/cluster/backup')
