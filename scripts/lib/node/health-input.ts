// Collects what the health checks read: nodes, guests with their configs, shared storages,
// backup jobs and the newest backup of each guest.
import { ApiError } from '../errors.ts'
import type { PveClient } from '../pve/client.ts'
import { apiPath } from '../pve/client.ts'
import { listResources } from '../pve/resources.ts'
import type { BackupJob, HealthGuest, HealthInput } from './health.ts'

export async function readHealthInput(client: PveClient, policy: HealthInput['policy']): Promise<HealthInput> {
  const [nodeRows, vmRows, storageRows] = await Promise.all([listResources(client, 'node'), listResources(client, 'vm'), listResources(client, 'storage')])
  // Without Sys.Audit on / the jobs are unreadable: report that as a finding instead of failing.
  let backupJobs: BackupJob[] | undefined
  let backupJobsError: string | undefined
  try {
    backupJobs = await client.get<BackupJob[]>('/cluster/backup')
  } catch (err) {
    if (!(err instanceof ApiError) || err.status === 0) throw err
    backupJobsError = err.message
  }
  const guests: HealthGuest[] = []
  const vms = vmRows.filter((r) => r.type === 'qemu' || r.type === 'lxc')
  for (let i = 0; i < vms.length; i += 16) {
    const batch = vms.slice(i, i + 16)
    const configs = await Promise.all(batch.map((r) => client.get<Record<string, unknown>>(apiPath`/nodes/${r.node ?? ''}/${r.type}/${Number(r.vmid)}/config`)))
    batch.forEach((r, k) =>
      guests.push({
        vmid: Number(r.vmid),
        name: r.name,
        node: r.node ?? '',
        status: r.status ?? 'unknown',
        template: r.template === 1,
        maxmem: r.maxmem ?? 0,
        maxcpu: r.maxcpu ?? 0,
        hastate: r.hastate || undefined,
        pool: r.pool,
        config: configs[k],
      }),
    )
  }
  const sharedStorages = new Set(storageRows.filter((s) => s.shared === 1).map((s) => s.storage ?? ''))
  // Newest backup per guest from every backup-capable storage (shared ones listed once).
  const lastBackup = new Map<number, number>()
  const seen = new Set<string>()
  for (const s of storageRows.filter((x) => (x.content ?? '').split(',').includes('backup') && x.status === 'available')) {
    const id = s.shared === 1 ? String(s.storage) : `${s.node}/${s.storage}`
    if (seen.has(id)) continue
    seen.add(id)
    const items = await client.get<{ vmid?: number; ctime?: number }[]>(apiPath`/nodes/${s.node ?? ''}/storage/${s.storage ?? ''}/content`, { content: 'backup' })
    for (const b of items) if (b.vmid && b.ctime) lastBackup.set(Number(b.vmid), Math.max(lastBackup.get(Number(b.vmid)) ?? 0, b.ctime))
  }
  return {
    nodes: nodeRows.map((n) => ({ name: n.node ?? '', online: n.status === 'online', maxmem: n.maxmem ?? 0, maxcpu: n.maxcpu ?? 0 })),
    guests,
    sharedStorages,
    backupJobs,
    backupJobsError,
    lastBackup,
    now: Math.floor(Date.now() / 1000),
    policy,
  }
}
